"""Reading and building git trees.

Trees are immutable and content-addressed, so reads go through a per-process LRU cache keyed by
tree id: after the first request, resolving a path costs no queries. The cache is bounded by the
memory its trees take (`GATEHOUSE_TREE_CACHE_BYTES`), not by their count, so a web process's
memory levels off however large the trees it serves. Commits build new trees
with `MutableTree`, which loads only the directories an operation touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NotRequired, TypedDict

from django.conf import settings

from core.bytecache import memo_by_bytes
from core.errors import BadRequest
from registry.git import gitobjects
from registry.models import Tree


class LfsInfo(TypedDict):
    """An LFS file's content: `sha256` and `size` of the bytes, `pointerSize` of the pointer git stores."""

    sha256: str
    size: int
    pointerSize: int


class Entry(TypedDict):
    """One child of a stored tree (`Tree.entries`, in git order). Files carry the size of their
    bytes and, when stored through LFS (or Xet), `lfs`; `oid` is the git blob id (for an LFS file,
    the pointer's) or, for a directory, the tree id. Directories have neither `size` nor `lfs`."""

    name: str
    type: Literal["file", "directory"]
    oid: str
    size: NotRequired[int]
    lfs: NotRequired[LfsInfo]


@memo_by_bytes(settings.GATEHOUSE_TREE_CACHE_BYTES)
def _stored_tree(oid: str) -> tuple[tuple[Entry, ...], dict[str, Entry]]:
    """(entries in git order, entries by name) of a stored tree: one cache entry, the two sharing
    their entry objects. A missing tree raises (and, unlike a hit, is not cached)."""
    row = Tree.objects.filter(oid=oid).values_list("entries", flat=True).first()
    if row is None:
        raise LookupError(f"tree {oid} is missing")
    entries = tuple(row)
    return entries, {entry["name"]: entry for entry in entries}


def tree_entries(oid: str) -> tuple[Entry, ...]:
    """Entries of a stored tree (cached; callers must not mutate them)."""
    return _stored_tree(oid)[0]


def tree_index(oid: str) -> dict[str, Entry]:
    """Entries of a stored tree by name (cached; callers must not mutate it)."""
    return _stored_tree(oid)[1]


def find_entry(root_oid: str, path: str) -> Entry | None:
    """The entry at `path` (file or directory), or None. '' is the root directory itself."""
    if path == "":
        return {"name": "", "type": "directory", "oid": root_oid}
    current = root_oid
    parts = path.split("/")
    for index, part in enumerate(parts):
        match = tree_index(current).get(part)
        if match is None:
            return None
        if index == len(parts) - 1:
            return match
        if match["type"] != "directory":
            return None
        current = match["oid"]
    return None


def iter_entries(tree_oid: str, prefix: str = "", *, recursive: bool) -> Iterator[tuple[str, Entry]]:
    """(path, entry) pairs in git order; with `recursive`, directories come before their content."""
    for entry in tree_entries(tree_oid):
        path = f"{prefix}{entry['name']}"
        yield path, entry
        if recursive and entry["type"] == "directory":
            yield from iter_entries(entry["oid"], f"{path}/", recursive=True)


def iter_files(tree_oid: str) -> Iterator[tuple[str, Entry]]:
    for path, entry in iter_entries(tree_oid, recursive=True):
        if entry["type"] == "file":
            yield path, entry


@memo_by_bytes(settings.GATEHOUSE_TREE_CACHE_BYTES // 4)
def lfs_paths(tree_oid: str) -> dict[str, tuple[str, ...]]:
    """sha256 -> every path holding that content, for the LFS files of a tree (recursively)."""
    paths: dict[str, tuple[str, ...]] = {}
    for path, entry in iter_files(tree_oid):
        if entry.get("lfs"):
            sha256 = entry["lfs"]["sha256"]
            paths[sha256] = (*paths.get(sha256, ()), path)
    return paths


def clear_caches() -> None:
    """Forget every cached tree of this process (after a repair rewrote stored trees)."""
    _stored_tree.cache_clear()  # type: ignore[attr-defined]
    lfs_paths.cache_clear()  # type: ignore[attr-defined]


def file_entry(*, name: str, oid: str, size: int, sha256: str, is_lfs: bool) -> Entry:
    entry: Entry = {"name": name, "type": "file", "oid": oid, "size": size}
    if is_lfs:
        pointer_size = len(gitobjects.lfs_pointer(sha256, size))
        entry["lfs"] = {"sha256": sha256, "size": size, "pointerSize": pointer_size}
    return entry


class MutableTree:
    """A directory being edited. Children are file entries or MutableTree objects."""

    def __init__(self, oid: str | None = None):
        self.oid = oid
        self._children: dict[str, Entry | MutableTree] | None = None if oid else {}

    @property
    def children(self) -> dict[str, Entry | MutableTree]:
        if self._children is None:
            assert self.oid is not None
            self._children = {
                entry["name"]: MutableTree(entry["oid"]) if entry["type"] == "directory" else entry.copy()
                for entry in tree_entries(self.oid)
            }
        return self._children

    def _descend(self, parts: list[str], *, create: bool) -> MutableTree | None:
        node = self
        for depth, part in enumerate(parts):
            child = node.children.get(part)
            if child is None:
                if not create:
                    return None
                child = MutableTree()
                node.children[part] = child
            elif not isinstance(child, MutableTree):
                raise BadRequest(f"'{'/'.join(parts[: depth + 1])}' is a file, not a folder.")
            node.oid = None  # modified below: re-encode on write
            node = child
        return node

    def get(self, path: str) -> Entry | MutableTree | None:
        *dirs, leaf = path.split("/")
        parent = self._lookup(dirs)
        return None if parent is None else parent.children.get(leaf)

    def _lookup(self, dirs: list[str]) -> MutableTree | None:
        node: MutableTree = self
        for part in dirs:
            child = node.children.get(part)
            if not isinstance(child, MutableTree):
                return None
            node = child
        return node

    def set_file(self, path: str, entry: Entry) -> None:
        *dirs, leaf = path.split("/")
        parent = self._descend(dirs, create=True)
        assert parent is not None
        if isinstance(parent.children.get(leaf), MutableTree):
            raise BadRequest(f"'{path}' is a folder, not a file.")
        parent.children[leaf] = {**entry, "name": leaf}
        parent.oid = None

    def remove(self, path: str) -> bool:
        """Remove a file or a folder; False if nothing was there."""
        *dirs, leaf = path.split("/")
        existing = self._lookup(dirs)
        if existing is None or leaf not in existing.children:
            return False
        parent = self._descend(dirs, create=False)
        assert parent is not None
        del parent.children[leaf]
        parent.oid = None
        return True

    def write(self, out: dict[str, list[Entry]], *, is_root: bool = False) -> str | None:
        """Encode changed directories into `out` (oid -> entries); returns this tree's id, or None
        when a sub-directory ended up empty (git has no empty directories)."""
        if self.oid is not None:
            return self.oid
        items: list[gitobjects.TreeItem] = []
        entries: dict[str, Entry] = {}
        for name, child in self.children.items():
            if isinstance(child, MutableTree):
                child_oid = child.write(out)
                if child_oid is None:
                    continue
                entries[name] = {"name": name, "type": "directory", "oid": child_oid}
                items.append(gitobjects.TreeItem(name, gitobjects.TREE_MODE, child_oid))
            else:
                entries[name] = child
                items.append(gitobjects.TreeItem(name, gitobjects.FILE_MODE, child["oid"]))
        if not items and not is_root:
            return None
        ordered = sorted(items, key=lambda item: gitobjects.tree_sort_key(item.name, item.is_tree))
        self.oid = gitobjects.tree_id(items)
        out[self.oid] = [entries[item.name] for item in ordered]
        return self.oid


def write_root(root: MutableTree) -> tuple[str, dict[str, list[Entry]]]:
    """Encode a whole edited tree. The root may be empty (a repo with every file deleted)."""
    out: dict[str, list[Entry]] = {}
    oid = root.write(out, is_root=True)
    assert oid is not None
    return oid, out


class TreeConflict(Exception):
    """A tree id is stored with other entries than a commit computed for it: never "first writer
    wins" (that is how one repo's commit could take over another's file metadata)."""


def save_trees(new_trees: dict[str, list[Entry]]) -> None:
    """Store new trees; a tree already stored must hold exactly the same entries.

    SECURITY: rows are shared between repos by git tree id. That is sound only because the id
    covers everything an entry stores: names, modes and blob ids, where a blob id fixes the
    interpretation too (content shaped as an LFS pointer is always an LFS reference, see
    `gitobjects.read_as_lfs_pointer`), and sizes and hashes follow from it. A difference means
    that rule was broken (or rows of an older version are left: `registry.ops.aliasing`), so the
    commit fails rather than sharing the other row."""
    if not new_trees:
        return
    Tree.objects.bulk_create(
        [Tree(oid=oid, entries=entries) for oid, entries in new_trees.items()], ignore_conflicts=True
    )
    stored = dict(Tree.objects.filter(oid__in=list(new_trees)).values_list("oid", "entries"))
    for oid, entries in new_trees.items():
        if stored.get(oid) != entries:
            raise TreeConflict(f"tree {oid} is stored with other entries")
