"""The pull-request diff and conflict detection, checked against git itself (text files; binary
and LFS files are covered by the client tests)."""

import subprocess

import pytest

from community.diffs import changed_files, conflicting_paths, unified_diff
from tests.support.builders import commit_files, make_repo

pytestmark = pytest.mark.django_db

GIT = ["git", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false", "-c", "diff.noprefix=false"]

BEFORE = {
    "README.md": b"# Title\n\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n",
    "gone.txt": b"bye\n",
    "dir/keep.txt": b"same\n",
}
AFTER = {
    "README.md": b"# Title\n\nline 1\nline two\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\n",
    "gone.txt": None,
    "dir/new.txt": b"no newline at end",
}


def _git(cwd, *args) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, check=True).stdout.decode()


def _git_diff(tmp_path) -> str:
    _git(tmp_path, "init", "-q")
    for version in (BEFORE, AFTER):
        for path, data in version.items():
            target = tmp_path / path
            if data is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        _git(tmp_path, "add", "-A")
        _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v")
    return _git(tmp_path, "diff", "--no-color", "--no-renames", "HEAD~1", "HEAD")


def test_unified_diff_is_what_git_prints(alice, tmp_path):
    repo = make_repo(alice, "diffs")
    first = commit_files(repo, BEFORE, author=alice).tree_oid
    second = commit_files(repo, AFTER, author=alice).tree_oid
    ours = unified_diff(first, second, repo_pk=repo.pk, may_read=lambda path: True)
    assert ours == _git_diff(tmp_path)


def test_withheld_files_are_named_but_not_shown(alice):
    repo = make_repo(alice, "diffs")
    first = commit_files(repo, BEFORE, author=alice).tree_oid
    second = commit_files(repo, AFTER, author=alice).tree_oid
    diff = unified_diff(first, second, repo_pk=repo.pk, may_read=lambda path: path != "README.md")
    assert "diff --git a/README.md b/README.md\n# Content withheld" in diff and "line two" not in diff
    assert "+no newline at end\n\\ No newline at end of file\n" in diff


def test_changed_files_and_conflicts(alice):
    repo = make_repo(alice, "diffs")
    fork = commit_files(repo, BEFORE, author=alice).tree_oid
    ours = commit_files(repo, {"README.md": b"ours\n", "dir/keep.txt": b"both\n"}, author=alice).tree_oid
    theirs = commit_files(
        repo, {"README.md": b"theirs\n", "dir/keep.txt": b"both\n", "gone.txt": None}, author=alice
    ).tree_oid
    assert sorted(changed_files(fork, theirs)) == ["README.md", "dir/keep.txt", "gone.txt"]
    assert changed_files(fork, fork) == {}
    # The same change on both sides is not a conflict; a different one is.
    assert conflicting_paths(fork, ours, theirs) == ["README.md"]
    # A file that became a folder shows as the file removed and the folder's files added.
    replaced = commit_files(repo, {"gone.txt/inner.txt": b"x\n"}, author=alice).tree_oid
    assert sorted(changed_files(theirs, replaced)) == ["gone.txt/inner.txt"]
    changes = changed_files(fork, replaced)
    assert sorted(changes) == ["README.md", "dir/keep.txt", "gone.txt", "gone.txt/inner.txt"]
    assert changes["gone.txt"][1] is None and changes["gone.txt/inner.txt"][0] is None
