"""Staging a git push: the pushed objects of one ref turned into rows, checked as the commit API
checks a commit (see registry.services.gitpush, which lands them).

- the new commits are those between the pushed tip and the repo's history; each must be in the
  pack (SECURITY: `HeldObjects`: an object left out of the pack must be held by this repo);
- every tree they name is checked: every path (`validate_new_path`), regular files only (no
  executable bit, symlink or submodule: the registry stores neither), large or binary files only
  through Git LFS, and for every LFS pointer the proof of possession (`blob_stage_stored`:
  uploaded to this repo, or by the contributor himself);
- the tree is then re-encoded from what is stored and must give the pushed bytes exactly;
- each new commit is held to the commit API's limits against its first parent (files changed,
  bytes added: `registry.limits`); a contributor's regular files are charged to their daily
  quota (`limits.charge_contributor`); only then are those files written to the blob store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from dulwich.objects import Commit as GitCommit

from accounts.models import User
from core.errors import BadRequest, PayloadTooLarge
from registry import limits
from registry.git import gitobjects, lfsrules, packs
from registry.git.held import COMMIT, TREE, HeldObjects
from registry.git.paths import validate_new_path
from registry.git.trees import Entry, file_entry, tree_index
from registry.models import Repo, StoredObject
from registry.services.commits import AddFile, blob_stage_stored
from registry.storage import content, get_storage

GITATTRIBUTES_MAX = 64 * 1024
STORE_THREADS = 8
LFS_HINT = "Use Git LFS for it (`git lfs track`), as the Hub asks."


@dataclass
class StagedCommit:
    oid: str
    raw: bytes
    tree_oid: str
    parents: list[str]
    new_trees: dict[str, list[Entry]] = field(default_factory=dict)
    added: list[AddFile] = field(default_factory=list)


class PushStager:
    """Turns pushed objects into rows for one ref of one repo, refusing (BadRequest) what the
    commit API would refuse. One per ref: each ref lands in its own transaction."""

    def __init__(self, *, repo: Repo, objects: dict[str, packs.PackObject], proof_from: User | None) -> None:
        self.repo = repo
        self.objects = objects
        self.proof_from = proof_from
        self.held = HeldObjects(repo.pk)
        self._files: dict[tuple[str, str], AddFile] = {}  # (path, blob oid) -> staged from the pack
        self._trees: set[tuple[str, str]] = set()  # (path, tree oid) staged or held
        # SECURITY: paths are staged one by one, so a tree that names one new subtree many times
        # (a pack of 2 KB can describe millions of paths) is bounded here, not by the pack's size.
        self._paths = 0
        self._entries: dict[str, list[Entry]] = {}  # tree oid -> entries, of every tree staged
        self._unstored: dict[str, bytes] = {}  # blob oid -> bytes: regular files to store, once checked

    def _store_regular_files(self) -> None:
        """The pack's regular files that the new trees name, written to the blob store at once, in
        parallel (each write is fsynced, and a push of many small files would otherwise wait for
        each in turn), after every limit passed and a contributor's quota was charged. As in the
        commit API, blob writes come before the database transaction's end; bytes no tree keeps
        are the garbage collector's."""
        blobs, self._unstored = self._unstored, {}
        if not blobs:
            return
        if self.proof_from is not None:  # SECURITY: charged before a byte is stored
            limits.charge_contributor(user=self.proof_from, amount=sum(len(data) for data in blobs.values()))
        storage = get_storage()
        with ThreadPoolExecutor(max_workers=STORE_THREADS) as pool:
            hashes = dict(zip(blobs, pool.map(storage.put_bytes, blobs.values()), strict=True))
        StoredObject.objects.bulk_create(
            [StoredObject(sha256=sha256, size=len(blobs[oid])) for oid, sha256 in hashes.items()],
            ignore_conflicts=True,
        )

    def new_commits(self, tip: str) -> list[StagedCommit]:
        """The commits from the repo's history (exclusive) to `tip`, parents first, staged."""
        order: list[str] = []
        parsed: dict[str, GitCommit] = {}
        todo, seen = [tip], set()
        while todo:
            oid = todo.pop()
            if oid in seen or self.held.kind(oid) == COMMIT:
                continue
            seen.add(oid)
            obj = self.objects.get(oid)
            if obj is None or obj.kind != packs.COMMIT:
                if obj is not None and obj.kind == packs.TAG:
                    raise BadRequest("Annotated tags are not supported: push a lightweight tag (`git tag NAME`).")
                raise BadRequest(f"Commit {oid} is neither in the pack nor in this repo.")
            commit = parse_commit(obj.raw)
            parsed[oid] = commit
            order.append(oid)
            todo.extend(parent.decode() for parent in commit.parents)
        staged = []
        for oid in _parents_first(order, parsed):
            commit = parsed[oid]
            item = StagedCommit(
                oid=oid,
                raw=self.objects[oid].raw,
                tree_oid=commit.tree.decode(),
                parents=[parent.decode() for parent in commit.parents],
            )
            self._stage_tree(item, item.tree_oid, "")
            staged.append(item)
        trees_of = {item.oid: item.tree_oid for item in staged}
        for item in staged:
            parent = item.parents[0] if item.parents else None
            parent_tree = trees_of[parent] if parent in trees_of else held_tree(self.held, parent)
            self._check_limits(item, parent_tree)
        self._store_regular_files()
        return staged

    def _check_limits(self, item: StagedCommit, parent_tree: str | None) -> None:
        """The commit API's limits, per pushed commit against its first parent: the files it
        changes (GATEHOUSE_MAX_COMMIT_FILES; a folder removed whole counts once, as one
        `deletedFolder`), the bytes it adds (GATEHOUSE_MAX_COMMIT_SIZE, LFS content included)."""
        tally = limits.CommitTally()
        try:
            for path, size in self._changes(item.tree_oid, parent_tree, ""):
                tally.add(path=path, size=size)
        except PayloadTooLarge as exc:
            raise PayloadTooLarge(f"Commit {item.oid[:12]}: {exc.message}") from None

    def _changes(self, new_oid: str | None, old_oid: str | None, prefix: str) -> Iterator[tuple[str, int]]:
        """(path, bytes added) of each file a commit adds, changes (its size) or deletes (0)."""
        if new_oid == old_oid:
            return
        after_entries = self._tree_index(new_oid) if new_oid else {}
        before_entries = self._tree_index(old_oid) if old_oid else {}
        for name in sorted(after_entries.keys() | before_entries.keys()):
            after, before = after_entries.get(name), before_entries.get(name)
            if _identity(after) == _identity(before):
                continue
            path = f"{prefix}{name}"
            folder_before = before["oid"] if before is not None and before["type"] == "directory" else None
            if after is None:
                yield path, 0
            elif after["type"] == "directory":
                yield from self._changes(after["oid"], folder_before, f"{path}/")
                if before is not None and folder_before is None:
                    yield path, 0  # a file replaced by a folder
            else:
                if folder_before is not None:
                    yield f"{path}/", 0  # a folder replaced by a file
                yield path, after.get("size", 0)

    def _tree_index(self, oid: str) -> dict[str, Entry]:
        """A tree's entries by name: staged by this push, or held by the repo (checked when staged)."""
        staged = self._entries.get(oid)
        if staged is not None:
            return {entry["name"]: entry for entry in staged}
        return tree_index(oid)

    def _stage_tree(self, item: StagedCommit, oid: str, prefix: str) -> None:
        if (prefix, oid) in self._trees:
            return
        obj = self.objects.get(oid)
        if obj is None or obj.kind != packs.TREE:
            if self.held.kind(oid) != TREE:
                raise BadRequest(f"Tree {oid} ('{prefix or '/'}') is neither in the pack nor in this repo.")
            self._trees.add((prefix, oid))
            return
        gitattributes = self._gitattributes(obj.raw) if not prefix else ""
        entries: list[Entry] = []
        items: list[gitobjects.TreeItem] = []
        for mode, name, child in _tree_items(obj.raw):
            path = f"{prefix}{name}"
            self._paths += 1
            if self._paths > settings.GATEHOUSE_GIT_MAX_PUSH_PATHS:
                raise BadRequest(
                    f"This push's new trees name more than {settings.GATEHOUSE_GIT_MAX_PUSH_PATHS} paths: "
                    "push the history in smaller parts."
                )
            if mode == 0o40000:
                validate_new_path(path)
                self._stage_tree(item, child, f"{path}/")
                entries.append({"name": name, "type": "directory", "oid": child})
                items.append(gitobjects.TreeItem(name, gitobjects.TREE_MODE, child))
                continue
            if mode != 0o100644:
                kind = {0o100755: "an executable file", 0o120000: "a symbolic link", 0o160000: "a submodule"}
                raise BadRequest(
                    f"'{path}' is {kind.get(mode, f'of mode {mode:o}')}: only regular files and folders are "
                    "stored (clear the executable bit with `git update-index --chmod=-x`)."
                )
            added = self._files.get((path, child))
            if added is None:
                added = self._stage_file(path, child, gitattributes)
                if (path, child) in self._files:  # new content: added (and scanned) with this commit
                    item.added.append(added)
            entries.append(file_entry(name=name, oid=child, size=added.size, sha256=added.sha256, is_lfs=added.is_lfs))
            items.append(gitobjects.TreeItem(name, gitobjects.FILE_MODE, child))
        if gitobjects.encode_tree(items) != obj.raw:
            raise BadRequest(f"Tree '{prefix or '/'}' ({oid}) is not in git's canonical form.")
        item.new_trees[oid] = entries
        self._entries[oid] = entries
        self._trees.add((prefix, oid))

    def _stage_file(self, path: str, oid: str, gitattributes: str) -> AddFile:
        """The file at `path` as the commit API would store it; SECURITY: every path validated,
        every pointer's content proven (uploaded to this repo, or by the contributor himself)."""
        validate_new_path(path)
        obj = self.objects.get(oid)
        if obj is None or obj.kind != packs.BLOB:
            row = self.held.blob(oid)
            if row is None:
                raise BadRequest(f"'{path}' ({oid}) is neither in the pack nor in this repo.")
            sha256, size, is_lfs = row
            return AddFile(path=path, sha256=sha256, size=size, is_lfs=is_lfs, blob_oid=oid)
        if (pointer := gitobjects.read_as_lfs_pointer(obj.raw)) is not None:
            sha256, size = pointer
            added = blob_stage_stored(
                repo=self.repo, path=path, sha256=sha256, size=size, proof_from=self.proof_from, as_pointer=True
            )
            if added.blob_oid != oid:
                raise BadRequest(
                    f"'{path}' is a Git LFS pointer in a form git-lfs does not write; push it with git-lfs."
                )
        else:
            text_max = settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES
            data = obj.raw
            if lfsrules.should_use_lfs(
                path=path, size=len(data), sample=data[:512], gitattributes=gitattributes, text_max=text_max
            ):
                why = "larger than 10 MiB" if len(data) > text_max else "binary or matched by an LFS rule"
                raise BadRequest(f"'{path}' is {why} and was pushed as a regular file. {LFS_HINT}")
            self._unstored[oid] = data  # stored by `new_commits` once the limits passed
            sha256 = hashlib.sha256(data).hexdigest()
            added = AddFile(path=path, sha256=sha256, size=len(data), is_lfs=False, blob_oid=oid)
        self._files[(path, oid)] = added
        return added

    def _gitattributes(self, root_raw: bytes) -> str:
        """The root `.gitattributes` of the pushed tree (its LFS rules decide what must be LFS)."""
        for mode, name, child in _tree_items(root_raw):
            if name == ".gitattributes" and mode == 0o100644:
                obj = self.objects.get(child)
                if obj is not None and obj.kind == packs.BLOB:
                    return obj.raw[:GITATTRIBUTES_MAX].decode("utf-8", "replace")
                row = self.held.blob(child)
                if row is not None and not row[2] and content.belongs_to_repo(self.repo.pk, row[0]):
                    return content.read_head(row[0], min(row[1], GITATTRIBUTES_MAX)).decode("utf-8", "replace")
        return ""


def _identity(entry: Entry | None) -> tuple[str, str] | None:
    return None if entry is None else (entry["type"], entry["oid"])


def parse_commit(raw: bytes) -> GitCommit:
    parsed = GitCommit.from_raw_string(packs.COMMIT, raw)
    if not isinstance(parsed, GitCommit):  # a commit's bytes give a Commit; this narrows the type
        raise BadRequest("A pushed commit cannot be read.")
    return parsed


def _tree_items(raw: bytes):
    """(mode, name, oid) of a tree's entries; the tree passed dulwich's `check()` already."""
    offset = 0
    while offset < len(raw):
        space = raw.index(b" ", offset)
        nul = raw.index(b"\0", space)
        try:
            name = raw[space + 1 : nul].decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("A pushed tree holds a name that is not valid UTF-8.") from None
        yield int(raw[offset:space], 8), name, raw[nul + 1 : nul + 21].hex()
        offset = nul + 21


def _parents_first(order: list[str], parsed: dict[str, GitCommit]) -> list[str]:
    done: set[str] = set()
    result: list[str] = []
    for start in reversed(order):
        stack = [(start, False)]
        while stack:
            oid, expanded = stack.pop()
            if oid in done or oid not in parsed:
                continue
            if expanded:
                done.add(oid)
                result.append(oid)
                continue
            stack.append((oid, True))
            stack.extend((parent.decode(), False) for parent in parsed[oid].parents)
    return result


def held_tree(held: HeldObjects, commit_oid: str | None) -> str | None:
    return held.commits[commit_oid][1] if commit_oid in held.commits else None
