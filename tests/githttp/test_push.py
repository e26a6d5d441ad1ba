"""git push with real git against the live server, under the commit API's rules."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading

import pytest
from django.db import connection, transaction
from huggingface_hub import hf_hub_download

from community.services.pulls import pull_request_open
from gating.models import AuditEvent
from registry.git import gitobjects
from registry.git.trees import find_entry
from registry.models import Commit, FileScan, Ref
from tests.githttp.conftest import needs_git_lfs
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
    git.run("push", "origin", "main", cwd=work)
    assert _head(repo) == oid
    assert b"".join(client.get("/alice/pushed/resolve/main/sub/notes.txt").streaming_content) == b"notes\n"
    assert Commit.objects.get(repo=repo, oid=oid).title == "change"
    assert FileScan.objects.filter(sha256=hashlib.sha256(b"notes\n").hexdigest()).exists()  # scan queued

    git.run("push", "origin", "HEAD:refs/heads/feature", cwd=work)
    assert _head(repo, "refs/heads/feature") == oid
    branch_oid = _commit(git, work, {"feature.txt": b"f\n"}, "on feature")
    git.run("push", "origin", "HEAD:feature", cwd=work)
    assert _head(repo, "refs/heads/feature") == branch_oid
    git.run("tag", "v1", cwd=work)
    git.run("push", "origin", "v1", cwd=work)
    assert _head(repo, "refs/tags/v1") == branch_oid
    git.run("tag", "-a", "v2", "-m", "annotated", cwd=work)
    refused = git.run("push", "origin", "v2", cwd=work, check=False)
    assert refused.returncode != 0 and "lightweight tag" in refused.stderr
    assert _head(repo, "refs/tags/v2") is None
    git.run("push", "origin", "--delete", "feature", cwd=work)
    assert _head(repo, "refs/heads/feature") is None
    assert _head(repo, "refs/tags/v1") == branch_oid  # the tag keeps its commit

    # The API's commits and the pushed ones are one history: commit through the API, then pull.
    commit_files(repo, {"api.txt": b"from the API\n"}, author=alice)
    git.run("pull", "-q", "--no-rebase", "origin", "main", cwd=work)
    assert (work / "api.txt").read_bytes() == b"from the API\n"
    fresh = _clone(git, tmp_path, "alice/pushed", token_for(alice), name="fresh")
    assert (fresh / "sub/notes.txt").read_bytes() == b"notes\n"
    git.run("fsck", "--strict", cwd=fresh)


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

    # A new file may not take a Windows device name, as through the commit API.
    git.run("reset", "-q", "--hard", before, cwd=work)
    _commit(git, work, {"sub/aux.py": b"print(1)\n"})
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "sub/aux.py" in refused.stderr
    assert _head(repo) == before

    # A tree entry named '..', which git itself never writes: built with hash-object and mktree.
    blob = git.run("hash-object", "-w", "--stdin", cwd=work, input_text="x\n").stdout.strip()
    tree = git.run("mktree", "--missing", cwd=work, input_text=f"100644 blob {blob}\t..\n").stdout.strip()
    commit = git.run("commit-tree", tree, "-p", before, "-m", "evil", cwd=work).stdout.strip()
    refused = git.run("push", "origin", f"{commit}:refs/heads/main", cwd=work, check=False)
    assert refused.returncode != 0
    assert _head(repo) == before
    assert not Commit.objects.filter(repo=repo, oid=commit).exists()


def test_contributor_pushes_to_their_pull_request_and_no_one_rewrites_it(git, alice, bob, tmp_path):
    repo = make_repo(alice, "shared", FILES)
    pull = pull_request_open(repo=repo, author=bob, title="fix", description="", draft=False)
    work = _clone(git, tmp_path, "alice/shared", token_for(bob), name="bob")
    oid = _commit(git, work, {"fix.txt": b"fixed\n"}, "fix")
    refused = git.run("push", "origin", "HEAD:main", cwd=work, check=False)
    assert refused.returncode != 0 and "write access" in refused.stderr
    git.run("push", "origin", f"HEAD:{pull.ref_name}", cwd=work)
    assert _head(repo, pull.ref_name) == oid
    assert Commit.objects.get(repo=repo, oid=oid).made_on_pull_request

    # The owner may write, but a forced push never rewrites someone else's pull request.
    owner = _clone(git, tmp_path, "alice/shared", token_for(alice), name="alice")
    _commit(git, owner, {"owner.txt": b"owner\n"}, "owner")
    refused = git.run("push", "--force", "origin", f"HEAD:{pull.ref_name}", cwd=owner, check=False)
    assert refused.returncode != 0 and "non-fast-forward" in refused.stderr
    assert _head(repo, pull.ref_name) == oid
    refused = git.run("push", "origin", f":{pull.ref_name}", cwd=owner, check=False)
    assert refused.returncode != 0 and "close the pull request" in refused.stderr


def test_private_repo_push_looks_like_a_missing_repo_to_outsiders(git, alice, bob, tmp_path):
    make_repo(alice, "secret", FILES, private=True)
    work = _clone(git, tmp_path, "alice/secret", token_for(alice))
    _commit(git, work, {"x.txt": b"x\n"})
    answers = []
    for path in ("alice/secret", "alice/nothing-here"):
        for token in (None, token_for(bob)):
            result = git.run("push", git.url(path, token), "main", cwd=work, check=False)
            assert result.returncode != 0
            answers.append(result.stderr.replace(path, "REPO"))
    assert answers[0] == answers[2] and answers[1] == answers[3]


def test_oversized_pack_is_refused(git, alice, tmp_path, settings):
    repo = make_repo(alice, "small", FILES)
    before = _head(repo)
    work = _clone(git, tmp_path, "alice/small", token_for(alice))
    _commit(git, work, {f"file{i}.txt": f"text {i}\n".encode() * 50 for i in range(30)})
    settings.GATEHOUSE_GIT_MAX_PUSH_OBJECTS = 10
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "at most 10" in refused.stderr
    settings.GATEHOUSE_GIT_MAX_PUSH_OBJECTS = 1000
    settings.GATEHOUSE_GIT_MAX_PUSH_BYTES = 2048
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert _head(repo) == before


def test_a_tree_naming_one_subtree_many_times_is_bounded_by_its_paths(git, alice, tmp_path, settings):
    """Found by an outsider attack: 256 folders all naming one tree of 9,000 files made a 2 KB pack
    of 2.3 million paths, staged one by one (3.5 GB in the web process, the writer lock held)."""
    repo = make_repo(alice, "bomb", FILES)
    before = _head(repo)
    work = _clone(git, tmp_path, "alice/bomb", token_for(alice))
    leaf = work / "d000"
    leaf.mkdir()
    for i in range(50):
        (leaf / f"f{i}.txt").write_text("x\n")
    git.run("add", "d000", cwd=work)
    subtree = git.run("write-tree", "--prefix=d000/", cwd=work).stdout.strip()
    listing = git.run("ls-tree", "HEAD", cwd=work).stdout
    listing += "".join(f"040000 tree {subtree}\td{i:03d}\n" for i in range(40))
    root = git.run("mktree", cwd=work, input_text=listing).stdout.strip()
    commit = git.run("commit-tree", root, "-p", "HEAD", "-m", "many names of one tree", cwd=work).stdout.strip()
    settings.GATEHOUSE_GIT_MAX_PUSH_PATHS = 1000  # 40 x 51 paths
    refused = git.run("push", "origin", f"{commit}:refs/heads/main", cwd=work, check=False)
    assert refused.returncode != 0 and "more than 1000 paths" in refused.stderr
    assert _head(repo) == before
    settings.GATEHOUSE_GIT_MAX_PUSH_PATHS = 5000
    git.run("push", "origin", f"{commit}:refs/heads/main", cwd=work)
    assert _head(repo) == commit


@needs_git_lfs
def test_lfs_push_of_a_large_file_then_hf_hub_download(git, alice, tmp_path):
    repo = make_repo(alice, "weights", FILES)
    work = _clone(git, tmp_path, "alice/weights", token_for(alice))
    git.run("lfs", "track", "*.bin", cwd=work)
    weights = os.urandom(3 * 1024 * 1024)
    _commit(git, work, {"model.bin": weights}, "weights")
    git.run("push", "origin", "main", cwd=work)
    entry = find_entry(Commit.objects.get(repo=repo, oid=_head(repo)).tree_oid, "model.bin")
    assert entry is not None and entry["lfs"]["sha256"] == hashlib.sha256(weights).hexdigest()
    downloaded = hf_hub_download("alice/weights", "model.bin", token=False, cache_dir=str(tmp_path / "hf"))
    assert open(downloaded, "rb").read() == weights  # noqa: PTH123, SIM115 - a test's read


@needs_git_lfs
def test_contributor_pushes_lfs_files_to_their_pull_request(git, alice, bob, tmp_path):
    """git-lfs uploads through the batch API as bob, who has no write access: his own upload
    proves the pointer in his pull request; the branch stays closed to him."""
    repo = make_repo(alice, "lfs-pr", FILES)
    pull = pull_request_open(repo=repo, author=bob, title="weights", description="", draft=False)
    work = _clone(git, tmp_path, "alice/lfs-pr", token_for(bob))
    git.run("lfs", "track", "*.bin", cwd=work)
    weights = os.urandom(300_000)
    oid = _commit(git, work, {"model.bin": weights}, "weights")
    git.run("push", "origin", f"HEAD:{pull.ref_name}", cwd=work)
    assert _head(repo, pull.ref_name) == oid
    entry = find_entry(Commit.objects.get(repo=repo, oid=oid).tree_oid, "model.bin")
    assert entry is not None and entry["lfs"]["sha256"] == hashlib.sha256(weights).hexdigest()
    refused = git.run("push", "origin", "HEAD:main", cwd=work, check=False)
    assert refused.returncode != 0 and "write access" in refused.stderr


@needs_git_lfs
def test_pointer_to_another_repos_lfs_object_is_refused_without_its_upload(git, alice, bob, tmp_path):
    secret = os.urandom(200_000)
    make_repo(alice, "holder", {"model.safetensors": secret}, private=True)
    repo = make_repo(bob, "thief", FILES)
    before = _head(repo)
    work = _clone(git, tmp_path, "bob/thief", token_for(bob))
    pointer = gitobjects.lfs_pointer(hashlib.sha256(secret).hexdigest(), len(secret))
    _commit(git, work, {"stolen.safetensors": pointer}, "steal")
    refused = git.run("push", "origin", "main", cwd=work, check=False, GIT_LFS_SKIP_PUSH="1")
    assert refused.returncode != 0 and "never uploaded to this repo" in refused.stderr
    assert _head(repo) == before


@pytest.mark.slow
def test_a_push_racing_an_api_commit_serialises_and_loses_nothing(git, alice, tmp_path):
    repo = make_repo(alice, "race", FILES)
    work = _clone(git, tmp_path, "alice/race", token_for(alice))
    _commit(git, work, {"pushed.txt": b"pushed\n"})
    locked, release = threading.Event(), threading.Event()

    def api_commit() -> None:  # an API commit holding the branch's lock while the push arrives
        try:
            with transaction.atomic():
                Ref.objects.select_for_update().get(repo=repo, name="refs/heads/main")
                locked.set()
                release.wait(30)
                commit_files(repo, {"api.txt": b"api\n"}, author=alice)
        finally:
            connection.close()

    thread = threading.Thread(target=api_commit)
    thread.start()
    assert locked.wait(30)
    push = subprocess.Popen(  # noqa: S603 - git with fixed arguments, loopback server
        ["git", "push", "origin", "main"], cwd=work, env=git.env(), stderr=subprocess.PIPE, text=True
    )
    with connection.cursor() as cursor:  # let the push reach the lock (or give up waiting for it)
        for _ in range(100):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0] or push.poll() is not None:
                break
            threading.Event().wait(0.1)
    release.set()
    thread.join(30)
    _, stderr = push.communicate(timeout=60)
    assert push.returncode != 0, stderr  # it was based on the old head: refused, nothing overwritten
    git.run("pull", "-q", "--no-rebase", "origin", "main", cwd=work)
    git.run("push", "origin", "main", cwd=work)
    fresh = _clone(git, tmp_path, "alice/race", token_for(alice), name="fresh")
    assert (fresh / "api.txt").read_bytes() == b"api\n"
    assert (fresh / "pushed.txt").read_bytes() == b"pushed\n"
