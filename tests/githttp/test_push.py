"""git push with real git against the live server, under the commit API's rules."""

from __future__ import annotations

import pytest

from gating.models import AuditEvent
from registry.models import Commit, Ref
from registry.services import commit_create
from registry.services.commits import blob_stage
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"README.md": b"# Pushed\n", "config.json": b'{"a": 1}\n'}


def _clone(git, tmp_path, path: str, token: str, name: str = "work"):
    target = tmp_path / name
    git.run("clone", git.url(path, token), str(target))
    return target


def _commit(git, work, files: dict[str, bytes], message: str = "change") -> str:
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git.run("add", "-A", cwd=work)
    git.run("commit", "-q", "-m", message, cwd=work)
    return git.run("rev-parse", "HEAD", cwd=work).stdout.strip()


def _head(repo, name: str = "refs/heads/main") -> str | None:
    return Ref.objects.filter(repo=repo, name=name).values_list("commit_oid", flat=True).first()


def test_push_to_main_new_branch_tag_and_delete(git, alice, tmp_path, client):
    repo = make_repo(alice, "pushed", FILES)
    work = _clone(git, tmp_path, "alice/pushed", token_for(alice))
    oid = _commit(git, work, {"config.json": b'{"a": 2}\n', "sub/notes.txt": b"notes\n"})
    result = git.run("push", "origin", "main", cwd=work)
    assert _head(repo) == oid
    assert b"".join(client.get("/alice/pushed/resolve/main/sub/notes.txt").streaming_content) == b"notes\n"
    assert Commit.objects.get(repo=repo, oid=oid).title == "change"

    git.run("push", "origin", "HEAD:refs/heads/feature", cwd=work)
    assert _head(repo, "refs/heads/feature") == oid
    branch_oid = _commit(git, work, {"feature.txt": b"f\n"}, "on feature")
    git.run("push", "origin", "HEAD:feature", cwd=work)
    assert _head(repo, "refs/heads/feature") == branch_oid
    git.run("tag", "v1", cwd=work)
    git.run("push", "origin", "v1", cwd=work)
    assert _head(repo, "refs/tags/v1") == branch_oid
    git.run("push", "origin", "--delete", "feature", cwd=work)
    assert _head(repo, "refs/heads/feature") is None
    assert _head(repo, "refs/tags/v1") == branch_oid  # the tag keeps its commit

    # The API's commits and the pushed ones are one history: commit through the API, then pull.
    commit_files(repo, {"api.txt": b"from the API\n"}, author=alice)
    git.run("pull", "-q", "--no-rebase", "origin", "main", cwd=work)
    assert (work / "api.txt").read_bytes() == b"from the API\n"
    del result


def test_forced_push_by_a_writer_is_audited_and_refused_for_a_reader(git, alice, bob, tmp_path):
    repo = make_repo(alice, "forced", FILES)
    first = _head(repo)
    commit_files(repo, {"later.txt": b"later\n"}, author=alice)
    work = _clone(git, tmp_path, "alice/forced", token_for(alice))
    git.run("reset", "-q", "--hard", first, cwd=work)
    rewritten = _commit(git, work, {"other.txt": b"other\n"}, "rewrite")

    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "rejected" in refused.stderr
    git.run("push", "--force", "origin", "main", cwd=work)
    assert _head(repo) == rewritten
    assert AuditEvent.objects.filter(repo=repo, action="repo.git_force_push").exists()

    outsider = _clone(git, tmp_path, "alice/forced", token_for(bob), name="bob")
    _commit(git, outsider, {"bob.txt": b"bob\n"})
    refused = git.run("push", "--force", "origin", "main", cwd=outsider, check=False)
    assert refused.returncode != 0
    assert "write access" in refused.stderr or "rejected" in refused.stderr
    assert _head(repo) == rewritten


def test_path_traversal_and_non_regular_files_are_refused_with_the_reason(git, alice, tmp_path):
    repo = make_repo(alice, "strict", FILES)
    before = _head(repo)
    work = _clone(git, tmp_path, "alice/strict", token_for(alice))
    (work / "run.sh").write_bytes(b"#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    git.run("add", "run.sh", cwd=work)
    git.run("commit", "-q", "-m", "exec", cwd=work)
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "executable" in refused.stderr
    assert _head(repo) == before

    # A tree entry named '..', which git itself never writes: built with hash-object and mktree.
    blob = git.run("hash-object", "-w", "--stdin", cwd=work, input_text="x\n").stdout.strip()
    tree = git.run(
        "mktree", "--missing", cwd=work, input_text=f"100644 blob {blob}\t..\n"
    ).stdout.strip()
    commit = git.run("commit-tree", tree, "-p", before, "-m", "evil", cwd=work).stdout.strip()
    refused = git.run("push", "origin", f"{commit}:refs/heads/main", cwd=work, check=False)
    assert refused.returncode != 0
    assert _head(repo) == before
    assert not Commit.objects.filter(repo=repo, oid=commit).exists()


def test_api_commit_after_push_builds_on_the_pushed_tree(git, alice, tmp_path, client):
    repo = make_repo(alice, "mixed", FILES)
    work = _clone(git, tmp_path, "alice/mixed", token_for(alice))
    _commit(git, work, {"pushed.txt": b"pushed\n"})
    git.run("push", "origin", "main", cwd=work)
    added = blob_stage(repo=repo, path="api.txt", content=b"api\n", proof_from=None)
    commit_create(repo=repo, branch="main", operations=[added], summary="api", author=alice)
    fresh = _clone(git, tmp_path, "alice/mixed", token_for(alice), name="fresh")
    assert (fresh / "pushed.txt").read_bytes() == b"pushed\n"
    assert (fresh / "api.txt").read_bytes() == b"api\n"
    git.run("fsck", "--strict", cwd=fresh)
