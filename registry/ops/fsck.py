"""Integrity check of the registry (the `registry_fsck` command): every ref names a commit of its
repo, every commit's id matches its raw object and its tree and parents exist, every file's
content is in the blob store with the right size, or as Xet chunks whose xorbs are all stored
(and, with `rehash`, that it has the right sha256)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from core.errors import HubError
from registry.git import gitobjects, trees
from registry.models import Blob, Commit, QuarantinedContent, Ref, RepoObject, StoredObject, Tree, UploadReceipt
from registry.ops import aliasing
from registry.selectors import entry_sha256
from registry.storage import content, get_storage

UNPROVEN = "named by a commit without proof that the content was uploaded to this repo"


@dataclass
class FsckReport:
    commits: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)


def fsck(*, rehash: bool = False, repair: bool = False) -> FsckReport:
    """With `repair`, aliased content is reinterpreted and quarantined (see registry.ops.aliasing)
    and reported as repaired, not as a problem."""
    report = FsckReport()
    _check_aliases(report, repair=repair)
    commits = {(c.repo_id, c.oid): c for c in Commit.objects.all().iterator()}
    for ref in Ref.objects.all().iterator():
        if (ref.repo_id, ref.commit_oid) not in commits:
            report.problems.append(f"ref {ref.name} of repo {ref.repo_id} points at missing commit {ref.commit_oid}")
    checked: set[str] = set()
    named: dict[int, dict[str, str]] = {}  # repo pk -> {sha256: a path naming it}
    storage = get_storage()
    # Content a repo no longer holds (deleted for good, or quarantined) may be gone from the store
    # (the garbage collector removes it once no other repo holds it): not a problem there.
    withdrawn: dict[int, set[str]] = {}
    for holder, gone in QuarantinedContent.objects.values_list("repo_id", "sha256"):
        withdrawn.setdefault(holder, set()).add(gone)
    for (repo_id, oid), commit in commits.items():
        report.commits += 1
        if gitobjects.commit_id(bytes(commit.raw)) != oid:
            report.problems.append(f"commit {oid} of repo {repo_id} does not hash to its id")
        for parent in commit.parent_oids:
            if (repo_id, parent) not in commits:
                report.problems.append(f"commit {oid} of repo {repo_id} has missing parent {parent}")
        try:
            files = list(trees.iter_files(commit.tree_oid))
        except LookupError as exc:
            report.problems.append(f"commit {oid} of repo {repo_id}: {exc}")
            continue
        for path, entry in files:
            sha256 = entry_sha256(entry)
            named.setdefault(repo_id, {}).setdefault(sha256, path)
            if sha256 in checked or sha256 in withdrawn.get(repo_id, ()):
                continue
            checked.add(sha256)
            report.objects += 1
            report.problems += _check_object(storage, sha256, entry["size"], path, rehash=rehash)
    _check_proofs(report, named, repair=repair)
    return report


def _check_proofs(report: FsckReport, named: dict[int, dict[str, str]], *, repair: bool) -> None:
    """Content a repo's commits name without proof that it belongs to the repo (no RepoObject):
    served as 410 ContentQuarantined. `repair` records it as quarantined, so that the repo's
    writers are told which files to upload again."""
    for repo_id, paths in named.items():
        proven = set(RepoObject.objects.filter(repo_id=repo_id).values_list("sha256", flat=True))
        known = set(QuarantinedContent.objects.filter(repo_id=repo_id).values_list("sha256", flat=True))
        for sha256, path in sorted(paths.items()):
            if sha256 in proven or sha256 in known:
                continue
            line = f"repo {repo_id} names content {sha256} ({path}) without proof it belongs there"
            if not repair:
                report.problems.append(f"{line}; run `registry_fsck --repair` to tell its writers")
                continue
            size = StoredObject.objects.filter(sha256=sha256).values_list("size", flat=True).first() or 0
            QuarantinedContent.objects.get_or_create(
                repo_id=repo_id, sha256=sha256, defaults={"size": size, "reason": UNPROVEN}
            )
            report.repaired.append(f"{line}: quarantined")


def _check_aliases(report: FsckReport, *, repair: bool) -> None:
    found = aliasing.repair(
        Blob=Blob,
        Tree=Tree,
        RepoObject=RepoObject,
        StoredObject=StoredObject,
        UploadReceipt=UploadReceipt,
        QuarantinedContent=QuarantinedContent,
        apply=repair,
    )
    lines = [f"blob {oid} is a Git LFS pointer stored as a regular file" for oid in found.blobs_reinterpreted]
    lines += [f"tree {oid} holds a Git LFS pointer as a regular file" for oid in found.trees_reinterpreted]
    lines += [
        f"repo {repo_id} names content {sha256} it never uploaded (aliased through a pointer file)"
        for repo_id, sha256 in found.quarantined
    ]
    if repair:
        report.repaired += lines
        trees.clear_caches()
    else:
        report.problems += [f"{line}; run `registry_fsck --repair`" for line in lines]


def _check_object(storage, sha256: str, size: int, path: str, *, rehash: bool) -> list[str]:
    if not storage.exists(sha256):
        if content.xet_hash_of(sha256):
            return _check_xet_object(sha256, size, path, rehash=rehash)
        return [f"{path}: content {sha256} is missing from the blob store"]
    if storage.size(sha256) != size:
        return [f"{path}: content {sha256} has size {storage.size(sha256)}, expected {size}"]
    if rehash:
        with storage.open(sha256) as handle:
            if hashlib.file_digest(handle, "sha256").hexdigest() != sha256:
                return [f"{path}: content {sha256} does not match its hash"]
    return []


def _check_xet_object(sha256: str, size: int, path: str, *, rehash: bool) -> list[str]:
    """Content stored only as Xet chunks: its file and every xorb it needs must be stored (checked
    when the read is set up, before any byte is read); rebuilt and hashed when rehashing."""
    if not rehash:
        try:
            content.iter_range(sha256, 0, size)
        except (OSError, HubError, ValueError) as exc:
            return [f"{path}: Xet content {sha256} cannot be rebuilt: {exc}"]
        return []
    digest = hashlib.sha256()
    received = 0
    try:
        for piece in content.iter_range(sha256, 0, size):
            digest.update(piece)
            received += len(piece)
    except (OSError, HubError, ValueError) as exc:
        return [f"{path}: Xet content {sha256} cannot be rebuilt: {exc}"]
    if received != size or digest.hexdigest() != sha256:
        return [f"{path}: Xet content {sha256} does not rebuild to its hash"]
    return []
