"""The full-clone cache: the same bytes again, never past the policy, swept when stale."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.db import transaction

from githttp import packcache
from licenses.selectors import license_at
from licenses.services import acknowledgment_record
from registry import services
from registry.selectors import resolve_revision
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import UserFactory, commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": b'{"a": 1}\n'}


def _entries(root):
    return sorted(root.rglob("*.pack"))


def test_a_cached_clone_still_runs_the_policy_for_each_caller(git, alice, tmp_path, _pack_cache):
    repo = make_repo(alice, "rail", FILES)
    git.run("clone", "--bare", git.url("alice/rail", token_for(alice, "read")), str(tmp_path / "first.git"))
    assert len(_entries(_pack_cache)) == 1
    git.run("clone", "--bare", git.url("alice/rail", token_for(alice, "read")), str(tmp_path / "again.git"))
    assert len(_entries(_pack_cache)) == 1  # served from the entry, not built again
    head = git.run("rev-parse", "HEAD", cwd=tmp_path / "again.git").stdout
    assert head == git.run("rev-parse", "HEAD", cwd=tmp_path / "first.git").stdout
    git.run("fsck", "--strict", cwd=tmp_path / "again.git")

    stranger = UserFactory(username="sam")
    refused = git.run("clone", git.url("alice/rail", token_for(stranger, "read")), str(tmp_path / "no"), check=False)
    assert refused.returncode != 0 and "requires accepting its license" in refused.stderr
    version = license_at(repo, resolve_revision(repo, "main")).version
    acknowledgment_record(user=stranger, repo=repo, version=version)
    git.run("clone", git.url("alice/rail", token_for(stranger, "read")), str(tmp_path / "yes"))


def test_entries_go_with_visibility_changes_and_stale_tips(git, alice, tmp_path, _pack_cache):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    git.run("clone", "--bare", git.url("alice/m"), str(tmp_path / "a.git"))
    assert len(_entries(_pack_cache)) == 1
    services.repo_settings_update(repo=repo, private=True, actor=alice)
    assert _entries(_pack_cache) == []

    git.run("clone", "--bare", git.url("alice/m", token_for(alice, "read")), str(tmp_path / "b.git"))
    assert packcache.collect(timedelta(0), dry_run=False)["git_pack_cache_entries"] == 0
    commit_files(repo, {"config.json": b"[]"}, author=alice)  # the cached tip is no longer a tip
    # Younger than the grace period, it may be an entry stored for tips newer than the sweep's read.
    assert packcache.collect(timedelta(hours=1), dry_run=False)["git_pack_cache_entries"] == 0
    assert packcache.collect(timedelta(0), dry_run=True)["git_pack_cache_entries"] == 1
    assert len(_entries(_pack_cache)) == 1
    assert packcache.collect(timedelta(0), dry_run=False)["git_pack_cache_entries"] == 1
    assert _entries(_pack_cache) == []


def test_entries_go_when_history_is_rewritten_or_the_repo_deleted(git, alice, tmp_path, _pack_cache):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    commit_files(repo, {"config.json": b"[]"}, author=alice)
    git.run("clone", "--bare", git.url("alice/m"), str(tmp_path / "a.git"))
    assert len(_entries(_pack_cache)) == 1
    with transaction.atomic():
        services.history_squash(repo=repo, ref_name="refs/heads/main", message="squashed", author=alice)
        assert len(_entries(_pack_cache)) == 1  # until the rewrite commits
    assert _entries(_pack_cache) == []

    work = tmp_path / "work"
    git.run("clone", git.url("alice/m", token_for(alice)), str(work))
    assert len(_entries(_pack_cache)) == 1
    git.run("commit", "-q", "--amend", "-m", "rewritten", cwd=work)
    git.run("push", "-q", "--force", "origin", "main", cwd=work)
    assert _entries(_pack_cache) == []

    git.run("clone", "--bare", git.url("alice/m"), str(tmp_path / "b.git"))
    assert len(_entries(_pack_cache)) == 1
    services.repo_delete(repo=repo)
    assert _entries(_pack_cache) == []


def test_entries_are_written_whole_and_leftovers_swept_after_the_grace(alice, _pack_cache):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    tip = repo.refs.get(name="refs/heads/main").commit_oid
    packcache.store(repo.pk, "k" * 64, [tip], io.BytesIO(b"PACK"))
    folder = _pack_cache / str(repo.pk)
    assert sorted(path.name for path in folder.iterdir()) == ["k" * 64 + ".json", "k" * 64 + ".pack"]
    stale_tmp, orphan = folder / ".tmp-died", folder / ("o" * 64 + ".json")
    stale_tmp.write_bytes(b"half a pack")
    orphan.write_text("[]")
    assert packcache.collect(timedelta(hours=1), dry_run=False)["git_pack_cache_leftovers"] == 0  # in flight?
    an_hour_ago = time.time() - 3600
    for path in (stale_tmp, orphan):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert packcache.collect(timedelta(minutes=5), dry_run=True)["git_pack_cache_leftovers"] == 2
    assert packcache.collect(timedelta(minutes=5), dry_run=False)["git_pack_cache_leftovers"] == 2
    assert sorted(path.name for path in folder.iterdir()) == ["k" * 64 + ".json", "k" * 64 + ".pack"]


def test_an_entry_swept_between_lookups_open_and_touch_is_a_miss(alice, _pack_cache, monkeypatch):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    packcache.store(repo.pk, "k" * 64, ["0" * 40], io.BytesIO(b"PACK"))
    real_utime = os.utime

    def collected_meanwhile(path, *args, **kwargs):  # the sweep runs between open and touch
        os.unlink(path)
        return real_utime(path, *args, **kwargs)

    monkeypatch.setattr(packcache.os, "utime", collected_meanwhile)
    assert packcache.lookup(repo.pk, "k" * 64) is None


def test_a_capability_named_twice_is_the_same_cache_entry_and_unknown_ones_are_not_cached():
    """Found by an outsider attack: repeating `ofs-delta` k times gave k cache entries of one clone."""
    from githttp.packcache import cache_key

    def body(caps: str) -> bytes:
        line = f"want {'a' * 40} {caps}\n".encode()
        return b"%04x" % (len(line) + 4) + line + b"0000" + b"0009done\n"

    once = cache_key(body("side-band-64k ofs-delta agent=git/2.39"))
    assert once is not None
    assert cache_key(body("ofs-delta side-band-64k ofs-delta ofs-delta agent=other")) == once
    assert cache_key(body("side-band-64k ofs-delta made-up-capability")) is None
