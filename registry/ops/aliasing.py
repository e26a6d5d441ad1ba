"""Finding and quarantining content aliased by versions before the pointer rule.

Before pointer-shaped files were LFS references (`gitobjects.read_as_lfs_pointer`), a commit could
add, as a *regular* file, the exact pointer text of another repo's LFS file. Its git blob id is the
id of that LFS entry, so its tree id was the other repo's tree id, and the shared tree and blob
rows (first writer wins) made one repo's commit read the other's metadata:

- victim first: the attacker's tree row is the victim's, whose entry names the victim's LFS
  content; the attacker's repo served it without any gate;
- attacker first: the victim's honest upload later got the attacker's row, a 132-byte regular
  file (poisoned), and re-committing could not repair it.

Both leave a trace this module reads from the database alone, so it runs as a migration as well as
from `registry_fsck --repair`: a repo that committed a pointer text holds a `RepoObject` for the
sha256 of that text, and in the attacker-first case the blob row of the LFS entry's id says
"regular". The repair reinterprets every such blob and tree entry as the LFS reference it is (as
today's commits do), and withdraws the repo's claim on the content the pointer names unless the
repo has an upload receipt for it: the repo's files then answer 410 `ContentQuarantined`, and a
`QuarantinedContent` row tells its writers what to upload again.

The functions take the model classes, so the migration can pass its historical models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from registry.git import gitobjects

REASON = "committed as the Git LFS pointer text of content it never uploaded"
_BATCH = 2000


@dataclass(frozen=True)
class Pointer:
    sha256: str  # of the content the pointer names
    size: int
    blob_oid: str  # git id of the canonical pointer text


@dataclass
class AliasReport:
    blobs_reinterpreted: list[str] = field(default_factory=list)
    trees_reinterpreted: list[str] = field(default_factory=list)
    quarantined: list[tuple[int, str]] = field(default_factory=list)  # (repo pk, sha256)


def _pointers_by_batch(StoredObject) -> Iterator[list[Pointer]]:
    """What the canonical pointer text of each stored content points at, a batch at a time (an
    install holds millions of objects: nothing here is proportional to all of them)."""
    batch: list[Pointer] = []
    for sha256, size in StoredObject.objects.values_list("sha256", "size").order_by().iterator(chunk_size=_BATCH):
        batch.append(Pointer(sha256, size, gitobjects.blob_id(gitobjects.lfs_pointer(sha256, size))))
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def find_aliases(*, Blob, RepoObject, StoredObject) -> tuple[dict[str, Pointer], list[tuple[int, Pointer]]]:
    """(regular blob rows that are pointer texts: oid -> pointer; (repo pk, pointer) for each repo
    that committed a pointer text as a regular file). Two indexed queries per batch of stored
    objects; memory grows with the aliases found only."""
    aliased_blobs: dict[str, Pointer] = {}
    committed: list[tuple[int, Pointer]] = []
    for batch in _pointers_by_batch(StoredObject):
        by_oid = {pointer.blob_oid: pointer for pointer in batch}
        rows = Blob.objects.filter(oid__in=list(by_oid), is_lfs=False).values_list("oid", flat=True)
        aliased_blobs.update({oid: by_oid[oid] for oid in rows})
        by_text = {hashlib.sha256(gitobjects.lfs_pointer(p.sha256, p.size)).hexdigest(): p for p in batch}
        rows = RepoObject.objects.filter(sha256__in=list(by_text)).values_list("repo_id", "sha256")
        committed += [(repo_id, by_text[text]) for repo_id, text in rows]
    return aliased_blobs, committed


def repair(*, Blob, Tree, RepoObject, StoredObject, UploadReceipt, QuarantinedContent, apply: bool) -> AliasReport:
    """Find aliases and, with `apply`, reinterpret them and quarantine what the repos never had.
    Idempotent: a second run finds nothing new to change."""
    report = AliasReport()
    aliased_blobs, committed = find_aliases(Blob=Blob, RepoObject=RepoObject, StoredObject=StoredObject)
    report.blobs_reinterpreted = sorted(aliased_blobs)
    if aliased_blobs:
        report.trees_reinterpreted = _reinterpret_trees(Tree, aliased_blobs, apply=apply)
    for repo_id, pointer in committed:
        if UploadReceipt.objects.filter(repo_id=repo_id, sha256=pointer.sha256).exists():
            continue  # someone sent the repo these very bytes: its claim stands
        if QuarantinedContent.objects.filter(repo_id=repo_id, sha256=pointer.sha256).exists():
            continue  # done by an earlier run
        report.quarantined.append((repo_id, pointer.sha256))
        if apply:
            RepoObject.objects.filter(repo_id=repo_id, sha256=pointer.sha256).delete()
            QuarantinedContent.objects.get_or_create(
                repo_id=repo_id, sha256=pointer.sha256, defaults={"size": pointer.size, "reason": REASON}
            )
    if apply:
        for oid, pointer in aliased_blobs.items():
            Blob.objects.filter(oid=oid).update(is_lfs=True, sha256=pointer.sha256, size=pointer.size)
    return report


def _reinterpret_trees(Tree, aliased_blobs: dict[str, Pointer], *, apply: bool) -> list[str]:
    changed: list[str] = []
    for tree in Tree.objects.iterator(chunk_size=_BATCH):
        entries = [_reinterpreted(entry, aliased_blobs) for entry in tree.entries]
        if entries != tree.entries:
            changed.append(tree.oid)
            if apply:
                Tree.objects.filter(oid=tree.oid).update(entries=entries)
    return changed


def _reinterpreted(entry: dict, aliased_blobs: dict[str, Pointer]) -> dict:
    pointer = aliased_blobs.get(entry["oid"])
    if entry["type"] != "file" or entry.get("lfs") or pointer is None:
        return entry
    text = gitobjects.lfs_pointer(pointer.sha256, pointer.size)
    lfs = {"sha256": pointer.sha256, "size": pointer.size, "pointerSize": len(text)}
    return {"name": entry["name"], "type": "file", "oid": entry["oid"], "size": pointer.size, "lfs": lfs}
