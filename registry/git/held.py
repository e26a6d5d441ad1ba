"""What one repo's history holds, by git id: for a push, the objects it may leave out of its pack.

SECURITY: trees and blobs are stored once for all repos (by git id), so "the object exists" says
nothing about this repo. An object is held here only if it is one of the repo's commits or is
reached by walking down from one of them. A push naming anything else must carry the object
in its pack; the refusal reads the same whether another repo holds it or nobody does.
"""

from __future__ import annotations

from registry.git import gitobjects
from registry.git.trees import Entry
from registry.models import Blob, Commit, Tree
from registry.storage import content

COMMIT, TREE, BLOB = 1, 2, 3
BULK = 2000


class HeldObjects:
    """Lazily walked: the commits at once (small rows), then trees level by level, in bulk,
    only as far as a lookup needs (a typical push names objects of its parent's tree)."""

    def __init__(self, repo_pk: int) -> None:
        self.repo_pk = repo_pk
        rows = Commit.objects.filter(repo_id=repo_pk).values_list("oid", "raw", "tree_oid", "parent_oids")
        self.commits: dict[str, tuple[bytes, str, list[str]]] = {
            oid: (bytes(raw), tree, list(parents)) for oid, raw, tree, parents in rows
        }
        self._kinds: dict[str, int] = {tree: TREE for _, tree, _ in self.commits.values()}
        self._frontier: list[str] = list(dict.fromkeys(self._kinds))
        self._entries: dict[str, list[Entry]] = {}

    def kind(self, oid: str) -> int | None:
        if oid in self.commits:
            return COMMIT
        while oid not in self._kinds and self._frontier:
            self._expand()
        return self._kinds.get(oid)

    def _expand(self) -> None:
        batch, self._frontier = self._frontier[:BULK], self._frontier[BULK:]
        for oid, entries in Tree.objects.filter(oid__in=batch).values_list("oid", "entries"):
            self._entries[oid] = entries
            for entry in entries:
                if entry["oid"] in self._kinds:
                    continue
                is_tree = entry["type"] == "directory"
                self._kinds[entry["oid"]] = TREE if is_tree else BLOB
                if is_tree:
                    self._frontier.append(entry["oid"])

    def blob(self, oid: str) -> tuple[str, int, bool] | None:
        """(sha256, size, is_lfs) of a blob this repo holds, else None."""
        if self.kind(oid) != BLOB:
            return None
        return Blob.objects.filter(oid=oid).values_list("sha256", "size", "is_lfs").first()

    def raw(self, oid: str) -> tuple[int, bytes] | None:
        """The object's type and bytes, as a delta base; None unless this repo holds it."""
        kind = self.kind(oid)
        if kind == COMMIT:
            return COMMIT, self.commits[oid][0]
        if kind == TREE:
            entries = self._entries.get(oid)
            if entries is None:
                entries = Tree.objects.filter(oid=oid).values_list("entries", flat=True).first()
            if entries is None:
                return None
            items = [
                gitobjects.TreeItem(
                    e["name"], gitobjects.TREE_MODE if e["type"] == "directory" else gitobjects.FILE_MODE, e["oid"]
                )
                for e in entries
            ]
            return TREE, gitobjects.encode_tree(items)
        if kind == BLOB:
            row = self.blob(oid)
            if row is None:
                return None
            sha256, size, is_lfs = row
            if is_lfs:
                return BLOB, gitobjects.lfs_pointer(sha256, size)
            if not content.belongs_to_repo(self.repo_pk, sha256):
                return None  # quarantined content is no base either
            return BLOB, content.read_head(sha256, size)
        return None

    def is_ancestor(self, ancestor: str, tip: str, pushed_parents: dict[str, list[str]]) -> bool:
        """Whether `ancestor` is `tip` or in its history (the pushed commits' parents first)."""
        seen: set[str] = set()
        todo = [tip]
        while todo:
            oid = todo.pop()
            if oid == ancestor:
                return True
            if oid in seen:
                continue
            seen.add(oid)
            if oid in pushed_parents:
                todo.extend(pushed_parents[oid])
            elif oid in self.commits:
                todo.extend(self.commits[oid][2])
        return False
