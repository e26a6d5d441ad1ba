"""Clone, fetch and ls-remote of public repos with real git: the same files, byte for byte."""

from __future__ import annotations

import pytest

from registry import services
from tests.support.builders import commit_files, make_repo

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"README.md": b"# Tiny\n", "config.json": b'{"a": 1}\n', "sub/dir/notes.txt": b"hello\n" * 100}


def test_clone_fetch_and_ls_remote_of_a_public_repo(git, alice, tmp_path):
    repo = make_repo(alice, "tiny", FILES)
    target = tmp_path / "tiny"
    git.run("clone", git.url("alice/tiny"), str(target))
    for path, data in FILES.items():
        assert (target / path).read_bytes() == data
    head = repo.refs.get(name="refs/heads/main").commit_oid
    assert git.run("rev-parse", "HEAD", cwd=target).stdout.strip() == head
    git.run("fsck", "--strict", cwd=target)

    commit_files(repo, {"config.json": b'{"a": 2}\n', "README.md": None}, author=alice)
    git.run("pull", "--ff-only", cwd=target)
    assert (target / "config.json").read_bytes() == b'{"a": 2}\n'
    assert not (target / "README.md").exists()

    listed = git.run("ls-remote", git.url("alice/tiny.git")).stdout
    assert f"{repo.refs.get(name='refs/heads/main').commit_oid}\trefs/heads/main" in listed
    assert "HEAD" in listed


def test_repo_page_shows_the_clone_commands(client, alice):
    make_repo(alice, "shown", FILES)
    page = client.get("/alice/shown").content.decode()
    assert "git clone http://testserver/alice/shown" in page
    assert "GIT_LFS_SKIP_SMUDGE=1 git clone http://testserver/alice/shown" in page


def test_datasets_shallow_clones_and_moved_repos(git, alice, tmp_path):
    dataset = make_repo(alice, "corpus", FILES, repo_type="dataset")
    commit_files(dataset, {"config.json": b"{}"}, author=alice)
    shallow = tmp_path / "corpus"
    git.run("clone", "--depth", "1", git.url("datasets/alice/corpus.git"), str(shallow))
    assert git.run("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    assert (shallow / "config.json").read_bytes() == b"{}"
    assert git.run("ls-remote", git.url("alice/corpus"), check=False).returncode != 0  # not a model

    model = make_repo(alice, "old-name", FILES)
    services.repo_move(repo=model, to_namespace="alice", to_name="new-name")
    moved = tmp_path / "moved"
    git.run("clone", git.url("alice/old-name"), str(moved))  # the old id redirects, as on the Hub
    assert (moved / "config.json").read_bytes() == FILES["config.json"]


def test_pull_and_fetch_in_a_shallow_clone_get_the_new_commits(git, alice, tmp_path):
    repo = make_repo(alice, "deep", FILES)
    commit_files(repo, {"config.json": b'{"a": 2}\n'}, author=alice, summary="second")
    shallow = tmp_path / "deep"
    git.run("clone", "--depth", "1", git.url("alice/deep"), str(shallow))
    # git names its shallow commits and asks for no deepening: the boundary stays where it is.
    tip = commit_files(repo, {"notes.txt": b"n\n"}, author=alice, summary="third").oid
    pulled = git.run("pull", "--progress", "--ff-only", cwd=shallow, GIT_PROGRESS_DELAY="0")
    assert "counting objects: 3," in pulled.stderr, pulled.stderr  # the new commit, tree and file only
    assert git.run("rev-parse", "HEAD", cwd=shallow).stdout.strip() == tip
    assert (shallow / "notes.txt").read_bytes() == b"n\n"
    assert git.run("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "2"
    commit_files(repo, {"notes.txt": b"m\n"}, author=alice, summary="fourth")
    git.run("fetch", "-q", cwd=shallow)
    assert git.run("rev-list", "--count", "origin/main", cwd=shallow).stdout.strip() == "3"
    git.run("fetch", "-q", "--depth", "1", cwd=shallow)  # deepening (here: re-cutting) still works
    assert git.run("rev-list", "--count", "origin/main", cwd=shallow).stdout.strip() == "1"
    git.run("fsck", cwd=shallow)
