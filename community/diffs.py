"""Comparing trees: which files a pull request changes, which of them the base changed too, and
a git-style unified diff for people to read.

Trees are content-addressed, so identical sub-directories are skipped by comparing their ids.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from django.conf import settings

from core.errors import ContentQuarantined
from registry import gitobjects, trees
from registry.selectors import entry_sha256, read_small_file

Change = tuple[dict | None, dict | None]  # (entry before, entry after); None where absent


def _files_under(tree_oid: str, prefix: str) -> dict[str, dict]:
    return {f"{prefix}{path}": entry for path, entry in trees.iter_files(tree_oid)}


def _index(tree_oid: str | None) -> dict[str, dict]:
    return dict(trees.tree_index(tree_oid)) if tree_oid else {}


def changed_files(old_tree: str | None, new_tree: str | None, prefix: str = "") -> dict[str, Change]:
    """Every file path whose blob differs between the two trees (added, removed or modified)."""
    if old_tree == new_tree:
        return {}
    old, new = _index(old_tree), _index(new_tree)
    changes: dict[str, Change] = {}
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        path = f"{prefix}{name}"
        before_tree = before["oid"] if before is not None and before["type"] == "directory" else None
        after_tree = after["oid"] if after is not None and after["type"] == "directory" else None
        before_dir, after_dir = before_tree is not None, after_tree is not None
        if before_dir or after_dir:
            changes.update(changed_files(before_tree, after_tree, f"{path}/"))
        before_file = before if before is not None and not before_dir else None
        after_file = after if after is not None and not after_dir else None
        if _oid(before_file) != _oid(after_file):
            changes[path] = (before_file, after_file)
    return changes


def _oid(entry: dict | None) -> str | None:
    return entry["oid"] if entry else None


def conflicting_paths(merge_base_tree: str | None, base_tree: str | None, head_tree: str | None) -> list[str]:
    """Paths the pull request changes that the base also changed since the fork, differently."""
    ours = changed_files(merge_base_tree, base_tree)
    theirs = changed_files(merge_base_tree, head_tree)
    return sorted(path for path in theirs.keys() & ours.keys() if _oid(theirs[path][1]) != _oid(ours[path][1]))


def _text(entry: dict | None, repo_pk: int) -> list[str] | None:
    """Lines of a small text file; None for binary, LFS-stored or large content."""
    if entry is None:
        return []
    if entry.get("lfs") or entry["size"] > settings.GATEHOUSE_PR_DIFF_MAX_FILE_BYTES:
        return None
    data = read_small_file(entry, repo_pk=repo_pk)
    if data is None or b"\0" in data[:8000]:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _lfs_pointer_lines(entry: dict | None) -> list[str]:
    if entry is None:
        return []
    return gitobjects.lfs_pointer(entry_sha256(entry), entry["size"]).decode().splitlines(keepends=True)


def file_diff(path: str, before: dict | None, after: dict | None, *, repo_pk: int) -> str:
    """One file's section of a git diff. LFS files show their pointers, as git shows them;
    binary and large files get git's one-line summary."""
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append(f"new file mode {gitobjects.FILE_MODE}\n")
    elif after is None:
        header.append(f"deleted file mode {gitobjects.FILE_MODE}\n")
    short = (_oid(before) or "0" * 40)[:7], (_oid(after) or "0" * 40)[:7]
    mode = f" {gitobjects.FILE_MODE}" if before is not None and after is not None else ""
    header.append(f"index {short[0]}..{short[1]}{mode}\n")
    is_lfs = bool((before or {}).get("lfs") or (after or {}).get("lfs"))
    old_lines: list[str] | None
    new_lines: list[str] | None
    if is_lfs:
        old_lines, new_lines = _lfs_pointer_lines(before), _lfs_pointer_lines(after)
    else:
        old_lines, new_lines = _text(before, repo_pk), _text(after, repo_pk)
    if old_lines is None or new_lines is None:
        old_name = f"a/{path}" if before is not None else "/dev/null"
        new_name = f"b/{path}" if after is not None else "/dev/null"
        return "".join(header) + f"Binary files {old_name} and {new_name} differ\n"
    body = difflib.unified_diff(
        old_lines,
        new_lines,
        fromfile=f"a/{path}" if before is not None else "/dev/null",
        tofile=f"b/{path}" if after is not None else "/dev/null",
    )
    lines = [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in body]
    return "".join(header) + "".join(lines)


def unified_diff(old_tree: str | None, new_tree: str | None, *, repo_pk: int, may_read: Callable[[str], bool]) -> str:
    """The whole diff, cut off (with a note) past GATEHOUSE_PR_DIFF_MAX_BYTES. Files the reader
    may not read (withheld by a release stage) are named but their content is not shown."""
    limit = settings.GATEHOUSE_PR_DIFF_MAX_BYTES
    parts: list[str] = []
    size = 0
    for path, (before, after) in sorted(changed_files(old_tree, new_tree).items()):
        if may_read(path):
            try:
                section = file_diff(path, before, after, repo_pk=repo_pk)
            except ContentQuarantined:
                section = f"diff --git a/{path} b/{path}\n# Content quarantined: never proven to belong to this repo.\n"
        else:
            section = f"diff --git a/{path} b/{path}\n# Content withheld in the current release stage.\n"
        size += len(section)
        if size > limit:
            parts.append(f"# Diff truncated: it is larger than {limit} bytes.\n")
            break
        parts.append(section)
    return "".join(parts)


def parse_for_display(diff: str) -> list[tuple[str, str]]:
    """(kind, line) pairs for the portal: file, hunk, add, del, meta or context."""
    rows = []
    for line in diff.splitlines():
        if line.startswith("diff --git"):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith(("+++", "---", "index ", "new file", "deleted file", "Binary files", "\\", "# ")):
            kind = "meta"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "context"
        rows.append((kind, line))
    return rows
