"""Comparing trees: which files a pull request changes, which of them the base changed too, and
a git-style unified diff for people to read.

Trees are content-addressed, so identical sub-directories are skipped by comparing their ids.

SECURITY (CPU): anyone who may see a pull request may ask for its diff, again and again, and
difflib is quadratic on some inputs (two 100,000-line files took 36 s). A file's section is a
function of its path and two blobs, so it is computed once and cached (keyed by the repo too);
files with more than GATEHOUSE_PR_DIFF_MAX_FILE_LINES lines are summarised; and once a request
has spent GATEHOUSE_PR_DIFF_BUDGET_S of CPU, the files left are only listed (the next request,
finding the first ones cached, goes further).
"""

from __future__ import annotations

import difflib
import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from core.errors import ContentQuarantined
from registry.git import gitobjects, trees
from registry.selectors import entry_sha256, read_small_file
from registry.storage import content

# Part of the cache keys of file sections: bump it whenever the same change is shown differently.
DIFF_VERSION = 2

Change = tuple[trees.Entry | None, trees.Entry | None]  # (entry before, entry after); None where absent


def _files_under(tree_oid: str, prefix: str) -> dict[str, trees.Entry]:
    return {f"{prefix}{path}": entry for path, entry in trees.iter_files(tree_oid)}


def _index(tree_oid: str | None) -> dict[str, trees.Entry]:
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


def _oid(entry: trees.Entry | None) -> str | None:
    return entry["oid"] if entry else None


def conflicting_paths(merge_base_tree: str | None, base_tree: str | None, head_tree: str | None) -> list[str]:
    """Paths the pull request changes that the base also changed since the fork, differently."""
    ours = changed_files(merge_base_tree, base_tree)
    theirs = changed_files(merge_base_tree, head_tree)
    return sorted(path for path in theirs.keys() & ours.keys() if _oid(theirs[path][1]) != _oid(ours[path][1]))


def _is_read(entry: trees.Entry | None) -> bool:
    """Whether the diff shows this entry's content (rather than its pointer or a summary)."""
    return entry is not None and not entry.get("lfs") and entry["size"] <= settings.GATEHOUSE_PR_DIFF_MAX_FILE_BYTES


def _text(entry: trees.Entry | None, repo_pk: int) -> list[str] | None:
    """Lines of a small text file; None for binary, LFS-stored or large content."""
    if entry is None:
        return []
    if not _is_read(entry):
        return None
    data = read_small_file(entry, repo_pk=repo_pk)
    if data is None or b"\0" in data[:8000]:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _lfs_pointer_lines(entry: trees.Entry | None) -> list[str]:
    if entry is None:
        return []
    return gitobjects.lfs_pointer(entry_sha256(entry), entry["size"]).decode().splitlines(keepends=True)


class DiffOverBudget(Exception):
    pass


class _BudgetedMatcher(difflib.SequenceMatcher):
    """difflib's matcher, stopped at a CPU deadline: its quadratic cases are many calls of
    `find_longest_match` (one per gap left between matches), each bounded by the file sizes."""

    def __init__(self, a: list[str], b: list[str], deadline: float):
        self.deadline = deadline
        super().__init__(None, a, b)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        if time.thread_time() > self.deadline:
            raise DiffOverBudget()
        return super().find_longest_match(alo, ahi, blo, bhi)


def _range(start: int, stop: int) -> str:
    """A hunk range as `difflib.unified_diff` (and git) writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _unified_lines(old: list[str], new: list[str], fromfile: str, tofile: str, deadline: float) -> list[str]:
    """`difflib.unified_diff(old, new, fromfile, tofile)`, through `_BudgetedMatcher`."""
    lines: list[str] = []
    for group in _BudgetedMatcher(old, new, deadline).get_grouped_opcodes(3):
        if not lines:
            lines += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [" " + line for line in old[i1:i2]]
                continue
            if tag in ("replace", "delete"):
                lines += ["-" + line for line in old[i1:i2]]
            if tag in ("replace", "insert"):
                lines += ["+" + line for line in new[j1:j2]]
    return lines


def file_diff(
    path: str, before: trees.Entry | None, after: trees.Entry | None, *, repo_pk: int, deadline: float = float("inf")
) -> str:
    """One file's section of a git diff, computed (uncached: see `unified_diff`). LFS files show
    their pointers, as git shows them; binary and large files get git's one-line summary, and
    files of more than GATEHOUSE_PR_DIFF_MAX_FILE_LINES lines a note. Raises DiffOverBudget when
    the thread's CPU time passes `deadline`."""
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append(f"new file mode {gitobjects.FILE_MODE}\n")
    elif after is None:
        header.append(f"deleted file mode {gitobjects.FILE_MODE}\n")
    short = (_oid(before) or "0" * 40)[:7], (_oid(after) or "0" * 40)[:7]
    mode = f" {gitobjects.FILE_MODE}" if before is not None and after is not None else ""
    header.append(f"index {short[0]}..{short[1]}{mode}\n")
    is_lfs = any(entry is not None and entry.get("lfs") for entry in (before, after))
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
    max_lines = settings.GATEHOUSE_PR_DIFF_MAX_FILE_LINES
    if len(old_lines) > max_lines or len(new_lines) > max_lines:
        return "".join(header) + (
            f"# Diff not shown: more than {max_lines} lines ({len(old_lines)} before, {len(new_lines)} after).\n"
        )
    body = _unified_lines(
        old_lines,
        new_lines,
        f"a/{path}" if before is not None else "/dev/null",
        f"b/{path}" if after is not None else "/dev/null",
        deadline,
    )
    lines = [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in body]
    return "".join(header) + "".join(lines)


def unified_diff(old_tree: str | None, new_tree: str | None, *, repo_pk: int, may_read: Callable[[str], bool]) -> str:
    """The whole diff, cut off (with a note) past GATEHOUSE_PR_DIFF_MAX_BYTES. Files the reader
    may not read (withheld by a release stage) are named but their content is not shown. Each
    file's section is cached; past the CPU budget, files not yet cached are only named."""
    limit = settings.GATEHOUSE_PR_DIFF_MAX_BYTES
    budget_end = time.thread_time() + settings.GATEHOUSE_PR_DIFF_BUDGET_S
    changes = sorted(changed_files(old_tree, new_tree).items())
    keys = {path: _section_key(path, before, after, repo_pk) for path, (before, after) in changes}
    cached = cache.get_many([keys[path] for path, _ in changes if may_read(path)])
    parts: list[str] = []
    size = 0
    for path, (before, after) in changes:
        if not may_read(path):
            section = f"diff --git a/{path} b/{path}\n# Content withheld in the current release stage.\n"
        else:
            try:
                section = _section(path, before, after, repo_pk, cached.get(keys[path]), keys[path], budget_end)
            except ContentQuarantined:
                section = f"diff --git a/{path} b/{path}\n# Content quarantined: never proven to belong to this repo.\n"
        size += len(section)
        if size > limit:
            parts.append(f"# Diff truncated: it is larger than {limit} bytes.\n")
            break
        parts.append(section)
    return "".join(parts)


def _section_key(path: str, before: trees.Entry | None, after: trees.Entry | None, repo_pk: int) -> str:
    bounds = f"{settings.GATEHOUSE_PR_DIFF_MAX_FILE_BYTES}:{settings.GATEHOUSE_PR_DIFF_MAX_FILE_LINES}"
    path_id = hashlib.sha256(path.encode()).hexdigest()[:32]
    return f"pr-diff:{DIFF_VERSION}:{bounds}:{repo_pk}:{path_id}:{_oid(before)}:{_oid(after)}"


def _section(
    path: str,
    before: trees.Entry | None,
    after: trees.Entry | None,
    repo_pk: int,
    cached: str | None,
    key: str,
    budget_end: float,
) -> str:
    # SECURITY: the proof that the content belongs to the repo is checked before a cached
    # section is used, as it is when the content is read.
    for entry in (before, after):
        if entry is not None and _is_read(entry):
            content.require_in_repo(repo_pk, entry_sha256(entry))
    if cached is not None:
        return cached
    started = time.thread_time()
    try:
        if started > budget_end:
            raise DiffOverBudget()
        section = file_diff(path, before, after, repo_pk=repo_pk, deadline=budget_end)
    except DiffOverBudget:
        if started < budget_end - settings.GATEHOUSE_PR_DIFF_BUDGET_S / 2:
            # It had most of a request's budget to itself: it would fail again, so say so for good.
            section = f"diff --git a/{path} b/{path}\n# Diff not shown: it takes too long to compute.\n"
            cache.set(key, section, settings.GATEHOUSE_RENDER_CACHE_SECONDS)
            return section
        return f"diff --git a/{path} b/{path}\n# Diff not computed yet: this request used its time; reload for more.\n"
    cache.set(key, section, settings.GATEHOUSE_RENDER_CACHE_SECONDS)
    return section


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
