import hashlib
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from registry import services
from registry.gc import collect_garbage
from registry.models import StoredObject
from registry.storage import get_storage
from registry.uploads import record_object
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db


def test_gc_removes_only_old_unreferenced_content(alice):
    repo = make_repo(alice, "m", {"kept.bin": b"\0keep" * 100, "replaced.txt": b"old"})
    commit_files(repo, {"replaced.txt": b"new"}, author=alice)  # old text stays referenced by history
    orphan_old = get_storage().put_bytes(b"abandoned upload")
    orphan_new = get_storage().put_bytes(b"upload in flight")
    StoredObject.objects.create(sha256=orphan_old, size=16, touched_at=timezone.now() - timedelta(days=3))
    StoredObject.objects.create(sha256=orphan_new, size=16)
    stray = get_storage().put_bytes(b"file without a row")
    os.utime(get_storage().path_for(stray), (0, 0))
    StoredObject.objects.exclude(sha256__in=[orphan_new]).update(touched_at=timezone.now() - timedelta(days=3))

    report = collect_garbage(grace=timedelta(days=1))
    assert report.deleted_objects == 1 and report.deleted_strays == 1
    assert not get_storage().exists(orphan_old) and not get_storage().exists(stray)
    assert get_storage().exists(orphan_new)
    for content in (b"\0keep" * 100, b"old", b"new"):
        assert get_storage().exists(hashlib.sha256(content).hexdigest())
    call_command("gc_blobs", "--grace-seconds", "86400")  # idempotent second run
    assert get_storage().exists(orphan_new)


def test_commit_racing_the_collector_either_keeps_its_object_or_fails_cleanly(alice):
    repo = make_repo(alice, "m")
    sha = get_storage().put_bytes(b"uploaded long ago")
    record_object(sha, 17, repo.pk)
    StoredObject.objects.filter(sha256=sha).update(touched_at=timezone.now() - timedelta(days=3))
    staged = services.stage_stored(repo=repo, path="w.bin", sha256=sha)
    collect_garbage(grace=timedelta(days=1))  # the object goes before the commit locks it
    with pytest.raises(Exception, match="not stored"):
        services.commit_create(repo=repo, branch="main", operations=[staged], summary="late", author=alice)
    # the other order: the commit touches the object, the collector keeps it
    sha2 = get_storage().put_bytes(b"also old")
    record_object(sha2, 8, repo.pk)
    StoredObject.objects.filter(sha256=sha2).update(touched_at=timezone.now() - timedelta(days=3))
    services.commit_create(
        repo=repo, branch="main", operations=[services.stage_stored(repo=repo, path="w2.bin", sha256=sha2)],
        summary="in time", author=alice,
    )  # fmt: skip
    collect_garbage(grace=timedelta(days=1))
    assert get_storage().exists(sha2)


@pytest.mark.django_db(transaction=True)
def test_limits_are_refused_up_front(hub, alice, settings, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024 * 1024
    make_repo(alice, "m")
    api = HfApi(token=token_for(alice))
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_file(path_or_fileobj=os.urandom(2 * 1024 * 1024), path_in_repo="big.safetensors", repo_id="alice/m")
    assert excinfo.value.response.status_code == 413
    assert "accepts files up to" in str(excinfo.value)
    assert not StoredObject.objects.filter(size=2 * 1024 * 1024).exists()
