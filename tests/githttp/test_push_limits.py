"""A push is held to the commit API's limits (GATEHOUSE_MAX_COMMIT_FILES, _MAX_COMMIT_SIZE, per
pushed commit) and a contributor's regular files draw from their daily upload quota
(GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY), charged before a byte is stored."""

from __future__ import annotations

import hashlib

import pytest
from django.core.cache import cache

from community.services.pulls import pull_request_open
from registry.storage import content
from tests.githttp.test_push import _clone, _commit, _head
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"README.md": b"# Limits\n", "config.json": b"{}\n"}


def test_a_push_is_held_to_the_commit_apis_file_count(git, alice, tmp_path, settings):
    folder = {f"old/f{i}.txt": f"old {i}\n".encode() for i in range(30)}
    repo = make_repo(alice, "many", FILES | folder)
    before = _head(repo)
    work = _clone(git, tmp_path, "alice/many", token_for(alice))
    settings.GATEHOUSE_MAX_COMMIT_FILES = 5
    files = {f"f{i}.txt": f"new {i}\n".encode() for i in range(30)}
    oid = _commit(git, work, files)
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert f"Commit {oid[:12]}: A commit may change at most 5 files" in refused.stderr
    assert _head(repo) == before
    assert not content.is_stored(hashlib.sha256(b"new 7\n").hexdigest())  # refused before storing

    # A folder removed whole is one change, as one `deletedFolder` line of the commit API.
    git.run("reset", "-q", "--hard", before, cwd=work)
    git.run("rm", "-q", "-r", "old", cwd=work)
    git.run("commit", "-q", "-m", "drop the folder", cwd=work)
    git.run("push", "origin", "main", cwd=work)
    assert _head(repo) != before


def test_a_push_is_held_to_the_commit_apis_size_per_commit(git, alice, tmp_path, settings):
    repo = make_repo(alice, "sized", FILES)
    before = _head(repo)
    work = _clone(git, tmp_path, "alice/sized", token_for(alice))
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 1000
    _commit(git, work, {"a.txt": b"a" * 600}, "first")
    _commit(git, work, {"b.txt": b"b" * 600}, "second")  # each commit fits, the push is 1200 bytes
    git.run("push", "origin", "main", cwd=work)
    oid = _commit(git, work, {"c.txt": b"c" * 600, "d.txt": b"d" * 600}, "too much at once")
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert f"Commit {oid[:12]}: This commit adds more than" in refused.stderr
    assert "split it into several commits" in refused.stderr
    assert _head(repo) not in (before, oid)


def test_a_contributors_push_draws_from_their_daily_quota(git, alice, bob, tmp_path, settings):
    cache.clear()  # quotas are counted by user id, which comes again after a database flush
    repo = make_repo(alice, "quota", FILES)
    pull = pull_request_open(repo=repo, author=bob, title="t", description="", draft=False)
    before = _head(repo, pull.ref_name)
    work = _clone(git, tmp_path, "alice/quota", token_for(bob))
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = 10_000
    small = _commit(git, work, {"small.txt": b"a line of text\n" * 200}, "3,000 bytes")
    git.run("push", "origin", f"HEAD:{pull.ref_name}", cwd=work)
    assert _head(repo, pull.ref_name) == small
    big = b"another line\n" * 1000
    _commit(git, work, {"big.txt": big}, "13,000 bytes")
    refused = git.run("push", "origin", f"HEAD:{pull.ref_name}", cwd=work, check=False)
    assert refused.returncode != 0 and "Too many bytes uploaded to pull requests" in refused.stderr
    assert _head(repo, pull.ref_name) == small != before
    assert not content.is_stored(hashlib.sha256(big).hexdigest())  # charged before storing

    # Writers are not charged: they may commit to the repo anyway.
    owner = _clone(git, tmp_path, "alice/quota", token_for(alice), name="owner")
    _commit(git, owner, {"big.txt": big}, "the owner's")
    git.run("push", "origin", "main", cwd=owner)
    assert content.is_stored(hashlib.sha256(big).hexdigest())
