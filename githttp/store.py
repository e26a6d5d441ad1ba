"""A dulwich repository over one Gatehouse repo's rows: commits, trees and blobs as git stores them.

Nothing is kept on disk: commits are served from their stored raw text (`Commit.raw`), trees are
encoded from their entries and blobs are an LFS pointer (rebuilt from sha256 and size) or the
content itself (read from the blob store). Every object's id is checked against the bytes served.

SECURITY: objects are scoped to the repo. Commits are looked up with the repo's key; a tree or a
blob is known to this store only once it was reached by walking down from one of the repo's own
commits, so neither a `have` nor a want can name another repo's object, and rows shared between
repos (trees and blobs are global) are served only where this repo's history names them. A
regular file's content is served only if it is proven to belong to the repo (`RepoObject`), as
`/resolve` requires; otherwise the whole request is refused (`Refused`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

from dulwich.object_store import MemoryObjectStore, MissingObjectFinder
from dulwich.objects import ObjectID, ShaFile
from dulwich.protocol import COMMAND_DEEPEN, COMMAND_SHALLOW
from dulwich.refs import DictRefsContainer
from dulwich.refs import Ref as GitRef
from dulwich.repo import BaseRepo, ParentsProvider
from dulwich.server import _ProtocolGraphWalker

from registry.git import gitobjects
from registry.models import Blob, Commit, Ref, Repo, RepoObject, Tree
from registry.storage import content

COMMIT, TREE, BLOB = 1, 2, 3
BULK = 2000  # rows per query when a walk fetches trees or blobs in bulk


class Refused(Exception):
    """The request cannot be served as asked: git shows the message (`ERR` pkt-line)."""


def _hex(sha: bytes) -> str:
    text = sha.decode("ascii") if isinstance(sha, bytes) else sha
    if len(text) == 20:  # a binary sha
        return bytes(sha).hex()
    return text


class RepoObjectStore(MemoryObjectStore):
    """Read-only object store of one repo (see the module's docstring)."""

    def __init__(self, repo: Repo) -> None:
        super().__init__()
        self.repo = repo
        self._commits: dict[str, tuple[bytes, str]] | None = None  # oid -> (raw, tree oid)
        self._reachable: dict[str, int] = {}  # tree and blob oids reached from the repo's commits
        self._trees: dict[str, bytes] = {}
        self._blobs: dict[str, tuple[str, int, bool]] = {}  # oid -> (sha256, size, is_lfs)
        self._proven: set[str] | None = None

    # Commits: the repo's own, loaded together once (each is a few hundred bytes).
    def commits(self) -> dict[str, tuple[bytes, str]]:
        if self._commits is None:
            rows = Commit.objects.filter(repo=self.repo).values_list("oid", "raw", "tree_oid")
            self._commits = {oid: (bytes(raw), tree) for oid, raw, tree in rows}
            for _, tree in self._commits.values():
                self.reach_tree(tree)
        return self._commits

    def parents(self, oid: str) -> list[str]:
        raw = self.commits()[oid][0]
        header = raw.split(b"\n\n", 1)[0]
        return [line[7:].decode() for line in header.split(b"\n") if line.startswith(b"parent ")]

    def tree_of(self, commit_oid: str) -> str:
        return self.commits()[commit_oid][1]

    def _kind(self, oid: str) -> int | None:
        if oid in self.commits():
            return COMMIT
        return self._reachable.get(oid)

    def __contains__(self, sha) -> bool:
        return self._kind(_hex(sha)) is not None

    def contains_loose(self, sha) -> bool:
        return sha in self

    def contains_packed(self, sha) -> bool:
        return False

    def __iter__(self) -> Iterator:
        return iter(())  # never asked when serving; listing every object is not a service

    def iter_unpacked_subset(self, shas, **kwargs):
        return iter(())  # no stored deltas to reuse: skip dulwich's first pass over every object

    def get_raw(self, name) -> tuple[int, bytes]:
        oid = _hex(name)
        kind = self._kind(oid)
        if kind == COMMIT:
            return COMMIT, self.commits()[oid][0]
        if kind == TREE:
            return TREE, self._tree_raw(oid)
        if kind == BLOB:
            return BLOB, self._blob_raw(oid)
        raise KeyError(name)

    def __getitem__(self, name) -> ShaFile:
        kind, raw = self.get_raw(name)
        return ShaFile.from_raw_string(kind, raw, sha=ObjectID(_hex(name).encode()))

    # Trees: fetched in bulk, every tree that the walk has reached and not loaded yet.
    def reach_tree(self, oid: str) -> None:
        self._reachable.setdefault(oid, TREE)

    def _tree_raw(self, oid: str) -> bytes:
        if oid not in self._trees:
            pending = [key for key, kind in self._reachable.items() if kind == TREE and key not in self._trees]
            batch = [oid] + [key for key in pending if key != oid][: BULK - 1]
            for tree_oid, entries in Tree.objects.filter(oid__in=batch).values_list("oid", "entries"):
                self._trees[tree_oid] = self._encode_tree(tree_oid, entries)
        if oid not in self._trees:
            raise KeyError(oid)
        return self._trees[oid]

    def _encode_tree(self, oid: str, entries: list[dict]) -> bytes:
        items = []
        for entry in entries:
            is_tree = entry["type"] == "directory"
            self._reachable.setdefault(entry["oid"], TREE if is_tree else BLOB)
            mode = gitobjects.TREE_MODE if is_tree else gitobjects.FILE_MODE
            items.append(gitobjects.TreeItem(name=entry["name"], mode=mode, oid=entry["oid"]))
        raw = gitobjects.encode_tree(items)
        if gitobjects.object_id("tree", raw) != oid:
            raise Refused(f"tree {oid} cannot be rebuilt exactly; please report this to the operator.")
        return raw

    # Blobs: rows in bulk; LFS pointers rebuilt, regular content read from the blob store.
    def _blob_row(self, oid: str) -> tuple[str, int, bool]:
        if oid not in self._blobs:
            pending = [key for key, kind in self._reachable.items() if kind == BLOB and key not in self._blobs]
            pending = [oid] + [key for key in pending if key != oid][: BULK - 1]
            for row in Blob.objects.filter(oid__in=pending).values_list("oid", "sha256", "size", "is_lfs"):
                self._blobs[row[0]] = row[1:]
        if oid not in self._blobs:
            raise KeyError(oid)
        return self._blobs[oid]

    def _blob_raw(self, oid: str) -> bytes:
        sha256, size, is_lfs = self._blob_row(oid)
        if is_lfs:
            data = gitobjects.lfs_pointer(sha256, size)
        else:
            if sha256 not in self.proven():
                raise Refused(
                    "This repo holds quarantined content: its owner must upload the affected files again "
                    "(see the repo page)."
                )
            data = content.read_head(sha256, size)
        if gitobjects.blob_id(data) != oid:
            raise Refused(f"blob {oid} cannot be rebuilt exactly; please report this to the operator.")
        return data

    def proven(self) -> set[str]:
        if self._proven is None:
            self._proven = set(RepoObject.objects.filter(repo=self.repo).values_list("sha256", flat=True))
        return self._proven


class ShallowAwareGraphWalker(_ProtocolGraphWalker):
    """dulwich's graph walker, reading `shallow` lines that come without `deepen`.

    A plain `git fetch` or `git pull` in a shallow clone names the client's shallow commits and
    asks for no deepening; dulwich expects `deepen` after them and fails with "Protocol got
    unexpected flush-pkt". As git's upload-pack does, those commits are taken as the boundary
    (the pack stops there, and `authorize` walks the history down to it, no further) and no
    shallow-update section is written: the client reads one only when it asked to deepen."""

    deepened = False  # the client asked for a new boundary (`deepen`)

    def _handle_shallow_request(self, wants) -> None:
        while True:
            command, value = self.read_proto_line((COMMAND_DEEPEN, COMMAND_SHALLOW, None))
            if command == COMMAND_SHALLOW and isinstance(value, bytes):
                self.client_shallow.add(ObjectID(value))
            elif command == COMMAND_DEEPEN and value is not None:
                self.unread_proto_line(command, value)
                self.deepened = True
                super()._handle_shallow_request(wants)  # finds the new boundary from the depth
                return
            else:  # the flush-pkt: no deepening asked
                self.shallow.update(self.client_shallow)
                return


class GitRepo(BaseRepo):
    """The dulwich view of a Gatehouse repo: its refs (HEAD names the default branch) and store."""

    def __init__(self, repo: Repo, authorize: Callable[[list, set], None] | None = None) -> None:
        store = RepoObjectStore(repo)
        rows = Ref.objects.filter(repo=repo).values_list("name", "commit_oid")
        refs = {GitRef(name.encode()): oid.encode() for name, oid in rows}
        super().__init__(store, DictRefsContainer(refs))
        self.gatehouse_repo = repo
        self.store = store
        self._authorize = authorize
        head = GitRef(f"refs/heads/{repo.default_branch}".encode())
        if head in refs:
            self.refs.set_symbolic_ref(GitRef(b"HEAD"), head)

    def authorize(self, wants: list, shallow: set) -> None:
        """Called with the wants (and the shallow boundary) before anything is sent; raises to
        refuse. Without the view's `authorize`, everything is refused."""
        if self._authorize is None:
            raise Refused("not authorized")
        self._authorize(wants, shallow)

    def find_missing_objects(self, determine_wants, graph_walker, progress, **kwargs):
        def checked(refs, depth=None):
            wants = determine_wants(refs, depth)
            if wants:
                self.authorize(wants, set(getattr(graph_walker, "shallow", ())))
            return wants

        if type(graph_walker) is not _ProtocolGraphWalker or kwargs.get("depth"):
            return super().find_missing_objects(checked, graph_walker, progress, **kwargs)
        # dulwich's handler builds its walker itself; this is the first place that sees it.
        graph_walker.__class__ = ShallowAwareGraphWalker
        walker = cast(ShallowAwareGraphWalker, graph_walker)
        return self._missing_objects(checked, walker, progress, get_tagged=kwargs.get("get_tagged"))

    def _missing_objects(self, determine_wants, walker: ShallowAwareGraphWalker, progress, *, get_tagged):
        """dulwich's `find_missing_objects` (no depth given: the walker reads the client's), but
        for a fetch in a shallow clone that asks for no deepening: dulwich drops the client's
        haves whenever it names shallow commits, and would send the whole tree of the boundary
        again with every `git pull`. Those haves are exact there (the client holds them and
        everything down to its boundary, which bounds both walks); a deepening still drops them,
        as dulwich does (the client lacks what lies past its old boundary)."""
        refs = {name: sha for name, sha in self.get_refs().items() if sha in self.object_store}
        wants = determine_wants(refs, None)
        if not wants:
            if walker.shallow or walker.unshallow:
                return None  # nothing to send; dulwich's short circuit
            return MissingObjectFinder(self.object_store, haves=[], wants=[])
        haves = self.object_store.find_common_revisions(walker)  # answers the haves (ACK/NAK)
        if walker.deepened:
            haves = []
        parents = ParentsProvider(self.object_store, shallows=walker.shallow)
        return MissingObjectFinder(
            self.object_store,
            haves=haves,
            wants=wants,
            shallow=walker.shallow,
            progress=progress,
            get_tagged=get_tagged,
            get_parents=lambda commit: parents.get_parents(commit.id, commit),
        )

    def get_config(self):
        from dulwich.config import ConfigFile

        return ConfigFile()

    def get_config_stack(self):
        return self.get_config()

    def get_named_file(self, path, basedir=None):
        return None

    def get_description(self):
        return None

    def get_peeled(self, ref):
        return self.refs[ref]  # tags are lightweight: a ref names its commit
