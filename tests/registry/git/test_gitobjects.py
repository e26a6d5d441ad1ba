"""Object ids must be exactly git's: checked against the git binary itself."""

import subprocess

import pytest

from registry.git import gitobjects
from registry.models import Commit
from registry.storage import get_storage
from tests.support.builders import commit_files, make_repo

GIT = ["git", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false"]


def git(repo_dir, *args, env=None, stdin: bytes | None = None) -> str:
    result = subprocess.run([*GIT, *args], cwd=repo_dir, input=stdin, capture_output=True, check=True, env=env)
    return result.stdout.decode().strip()


@pytest.fixture
def git_dir(tmp_path):
    git(tmp_path, "init", "-q")
    return tmp_path


@pytest.mark.parametrize("content", [b"", b"hello\n", bytes(range(256)) * 40])
def test_blob_id_matches_git_hash_object(git_dir, content):
    assert gitobjects.blob_id(content) == git(git_dir, "hash-object", "--stdin", stdin=content)


def test_tree_id_matches_git_mktree_including_git_sort_order(git_dir):
    blob = git(git_dir, "hash-object", "-w", "--stdin", stdin=b"x")
    sub = git(git_dir, "mktree", stdin=f"100644 blob {blob}\tinner.txt\n".encode())
    # 'a.b' sorts before the directory 'a' (compared as 'a/'), which sorts before 'a0'.
    items = [
        gitobjects.TreeItem("a0", gitobjects.FILE_MODE, blob),
        gitobjects.TreeItem("a", gitobjects.TREE_MODE, sub),
        gitobjects.TreeItem("a.b", gitobjects.FILE_MODE, blob),
    ]
    listing = "".join(f"{'040000 tree' if i.is_tree else '100644 blob'} {i.oid}\t{i.name}\n" for i in items)
    assert gitobjects.tree_id(items) == git(git_dir, "mktree", stdin=listing.encode())


def _rebuild_with_git(git_dir, commit: Commit) -> str:
    """Recreate a commit of ours with git plumbing: index from our files, write-tree, commit-tree."""
    from registry.git import trees

    env = {
        "GIT_AUTHOR_NAME": commit.author.username,
        "GIT_AUTHOR_EMAIL": commit.author.email,
        "GIT_AUTHOR_DATE": f"{int(commit.created_at.timestamp())} +0000",
        "GIT_COMMITTER_NAME": commit.author.username,
        "GIT_COMMITTER_EMAIL": commit.author.email,
        "GIT_COMMITTER_DATE": f"{int(commit.created_at.timestamp())} +0000",
        "PATH": "/usr/bin:/bin",
        "HOME": str(git_dir),
    }
    git(git_dir, "read-tree", "--empty")
    for path, entry in trees.iter_files(commit.tree_oid):
        if entry.get("lfs"):
            data = gitobjects.lfs_pointer(entry["lfs"]["sha256"], entry["size"])
        else:
            from registry.selectors import entry_sha256

            data = get_storage().open(entry_sha256(entry)).read()
        oid = git(git_dir, "hash-object", "-w", "--stdin", stdin=data)
        git(git_dir, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")
    tree = git(git_dir, "write-tree")
    assert tree == commit.tree_oid
    parents = [arg for oid in commit.parent_oids for arg in ("-p", oid)]
    return git(git_dir, "commit-tree", tree, *parents, env=env, stdin=commit.message.encode())


def _store_in_git(git_dir, commit: Commit) -> None:
    """Write our raw commit object into git's store, so a child commit can name it as parent."""
    stored = git(git_dir, "hash-object", "-t", "commit", "-w", "--stdin", stdin=bytes(commit.raw))
    assert stored == commit.oid


@pytest.mark.django_db
def test_commit_ids_match_git_commit_tree(git_dir, alice):
    repo = make_repo(alice, "gitcheck")
    first = Commit.objects.get(repo=repo)
    _store_in_git(git_dir, first)
    assert _rebuild_with_git(git_dir, first) == first.oid

    second = commit_files(
        repo,
        {
            "README.md": b"---\nlicense: mit\n---\n# Card\n",
            "nested/deeper/config.json": b'{"a": 1}',
            "nested/a.b": b"sorts before the folder 'nested/a'",
            "nested/a/x.txt": b"inside",
            "weights.safetensors": b"\0" * 2048,  # LFS: git stores the pointer
        },
        author=alice,
        summary="add files",
    )
    assert _rebuild_with_git(git_dir, second) == second.oid
    assert gitobjects.HEX40.match(second.oid)
    # the stored raw object is what git hashes to the id
    assert git(git_dir, "hash-object", "-t", "commit", "--stdin", stdin=bytes(second.raw)) == second.oid


def test_lfs_pointer_round_trip():
    sha = "a" * 64
    assert gitobjects.read_as_lfs_pointer(gitobjects.lfs_pointer(sha, 12)) == (sha, 12)
    assert gitobjects.read_as_lfs_pointer(b"not a pointer") is None
