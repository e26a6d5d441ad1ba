"""Garbage collection covers Xet storage: xorbs and files no commit needs go after the grace
period; content a commit still references stays, and so do fresh uploads."""

import os
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from registry import services
from registry.models import StoredObject
from registry.ops.fsck import fsck
from registry.ops.gc import collect_garbage
from registry.storage import get_xet_storage
from tests.support.builders import make_repo
from tests.xet.conftest import commit_xet_file
from xet.models import XetFile, Xorb

pytestmark = pytest.mark.django_db

GRACE = timedelta(hours=1)


def test_unreferenced_xet_content_is_collected_after_the_grace_period(cas, alice):
    repo = make_repo(alice, "gc", {"README.md": b"# gc\n"})
    kept_hash, kept_sha = cas.upload(repo, alice, os.urandom(200_000))
    commit_xet_file(repo, alice, "kept.bin", kept_sha)
    dropped_hash, dropped_sha = cas.upload(repo, alice, os.urandom(200_000))
    commit_xet_file(repo, alice, "dropped.bin", dropped_sha)
    services.commit_create(
        repo=repo, branch="main", operations=[services.DeleteFile("dropped.bin")], summary="rm", author=alice
    )
    # Nothing references the dropped file's content any more, but history does: it stays.
    collect_garbage(grace=GRACE)
    assert XetFile.objects.filter(hash=dropped_hash).exists()

    orphan_hash, _ = cas.upload(repo, alice, os.urandom(200_000))  # uploaded, never committed
    report = collect_garbage(grace=GRACE)
    assert XetFile.objects.filter(hash=orphan_hash).exists(), "fresh uploads are spared"
    assert report.extra["xorbs"] == 0

    later = timezone.now() + GRACE * 2
    with time_machine.travel(later):
        report = collect_garbage(grace=GRACE)
    assert not XetFile.objects.filter(hash=orphan_hash).exists()
    assert report.extra["xorbs"] == 1
    assert XetFile.objects.filter(hash__in=[kept_hash, dropped_hash]).count() == 2
    for xorb in Xorb.objects.all():
        assert get_xet_storage().exists(xorb.hash)
    assert Xorb.objects.count() == 2
    assert fsck(rehash=True).problems == []


def test_plain_copies_of_xet_content_are_a_cache(cas, alice):
    from registry.storage import content

    repo = make_repo(alice, "cache", {"README.md": b"# c\n"})
    _, sha256 = cas.upload(repo, alice, os.urandom(150_000))
    commit_xet_file(repo, alice, "w.bin", sha256)
    path = content.local_path(sha256)  # what the scanner and the preview worker use
    assert path.stat().st_size == 150_000
    with time_machine.travel(timezone.now() + GRACE * 2):
        report = collect_garbage(grace=GRACE)
    assert report.extra["plain copies of Xet content"] == 1
    assert not path.exists()
    assert StoredObject.objects.get(sha256=sha256).xet_hash
    assert content.read_head(sha256, 150_000)[:10] == content.local_path(sha256).read_bytes()[:10]


def test_shards_are_kept_while_their_files_are(cas, alice):
    from registry.storage import get_xet_shard_storage
    from xet.models import XetShard

    repo = make_repo(alice, "shards", {"README.md": b"# s\n"})
    file_hash, _ = cas.upload(repo, alice, os.urandom(120_000))  # never committed
    shard = XetFile.objects.get(hash=file_hash).shard
    assert get_xet_shard_storage().exists(shard.sha256)
    with time_machine.travel(timezone.now() + GRACE * 2):
        report = collect_garbage(grace=GRACE)
    assert report.extra["shards"] == 1
    assert not XetShard.objects.filter(pk=shard.pk).exists()
    assert not get_xet_shard_storage().exists(shard.sha256)


def test_a_lost_xorb_is_an_error_before_the_first_byte_not_a_short_200(cas, alice, client):
    """Operators lose disks: a plain download of Xet content whose xorb is gone answers 503 with
    the Hub's error headers, instead of a 200 whose body stops short."""
    repo = make_repo(alice, "lost", {"README.md": b"# lost\n"})
    file_hash, sha256 = cas.upload(repo, alice, os.urandom(120_000))
    commit_xet_file(repo, alice, "w.bin", sha256)
    url = "/alice/lost/resolve/main/w.bin"
    assert len(b"".join(client.get(url).streaming_content)) == 120_000
    assert fsck().problems == []
    for term in XetFile.objects.get(hash=file_hash).terms:
        get_xet_storage().delete(term[0])

    for headers in ({}, {"HTTP_RANGE": "bytes=1000-"}):
        response = client.get(url, **headers)
        assert response.status_code == 503
        assert response["X-Error-Code"] == "ContentUnavailable"
        assert "try again" in response["X-Error-Message"]
    assert client.head(url).status_code == 200  # metadata does not read content
    problems = fsck().problems  # found without rebuilding anything
    assert len(problems) == 1 and "w.bin" in problems[0] and "not stored" in problems[0]
