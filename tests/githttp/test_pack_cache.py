"""The full-clone cache: the same bytes again, never past the policy, swept when stale."""

from __future__ import annotations

from datetime import timedelta

import pytest

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
    assert packcache.collect(timedelta(0), dry_run=False) == {"git_pack_cache_entries": 0}
    commit_files(repo, {"config.json": b"[]"}, author=alice)  # the cached tip is no longer a tip
    assert packcache.collect(timedelta(0), dry_run=True) == {"git_pack_cache_entries": 1}
    assert len(_entries(_pack_cache)) == 1
    assert packcache.collect(timedelta(0), dry_run=False) == {"git_pack_cache_entries": 1}
    assert _entries(_pack_cache) == []
