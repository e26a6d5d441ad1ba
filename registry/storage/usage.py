"""What a repo stores: every content its history names (all its commits, so every branch, tag
and refs/pr/N), by kind. Reads for the settings page, `list_lfs_files` and the LFS deletions;
they decide nothing (the caller resolved the repo through the policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry.git import trees
from registry.models import Commit, QuarantinedContent, Ref, RefKind, Repo, RepoObject
from registry.selectors import entry_sha256
from registry.storage.content import xet_hashes_of


@dataclass(frozen=True)
class StoredContent:
    sha256: str
    size: int
    is_lfs: bool
    path: str  # where the newest commit that names it has it (other commits may name it elsewhere)
    blob_oid: str
    committed_at: datetime


def repo_contents(repo: Repo) -> dict[str, StoredContent]:
    """sha256 -> the content, for every file any commit of the repo names, but content the repo
    no longer holds (quarantined, or permanently deleted: `QuarantinedContent`)."""
    gone = set(QuarantinedContent.objects.filter(repo=repo).values_list("sha256", flat=True))
    found: dict[str, StoredContent] = {}
    seen: set[str] = set()
    commits = Commit.objects.filter(repo=repo).order_by("-created_at", "-pk").values_list("tree_oid", "created_at")
    for tree_oid, created_at in commits.iterator():
        _walk(tree_oid, "", created_at, seen, found)
    return {sha: item for sha, item in found.items() if sha not in gone}


def _walk(tree_oid: str, prefix: str, when: datetime, seen: set[str], found: dict[str, StoredContent]) -> None:
    if tree_oid in seen:
        return
    seen.add(tree_oid)
    for entry in trees.tree_entries(tree_oid):
        path = f"{prefix}{entry['name']}"
        if entry["type"] == "directory":
            _walk(entry["oid"], f"{path}/", when, seen, found)
            continue
        sha256 = entry_sha256(entry)
        if sha256 not in found:
            size = entry["lfs"]["size"] if entry.get("lfs") else entry["size"]
            found[sha256] = StoredContent(sha256, size, bool(entry.get("lfs")), path, entry["oid"], when)


@dataclass(frozen=True)
class StorageUsage:
    """Bytes of distinct content the repo's history names: LFS files stored as plain objects,
    LFS files stored as Xet chunks (uploaded through hf_xet), and regular (inline) files."""

    lfs: int
    xet: int
    regular: int

    @property
    def total(self) -> int:
        return self.lfs + self.xet + self.regular

    def as_json(self) -> dict[str, int]:
        return {"lfs": self.lfs, "xet": self.xet, "regular": self.regular, "total": self.total}


def repo_storage_usage(repo: Repo) -> StorageUsage:
    contents = repo_contents(repo)
    large = [item for item in contents.values() if item.is_lfs]
    in_xet = xet_hashes_of(item.sha256 for item in large)
    return StorageUsage(
        lfs=sum(item.size for item in large if item.sha256 not in in_xet),
        xet=sum(item.size for item in large if item.sha256 in in_xet),
        regular=sum(item.size for item in contents.values() if not item.is_lfs),
    )


@dataclass(frozen=True)
class LfsFile:
    content: StoredContent
    pushed_at: datetime
    ref: str | None  # a ref whose head holds it (the default branch first); None: only in history


def repo_lfs_files(repo: Repo) -> list[LfsFile]:
    """The LFS content of the repo's history, newest first; `pushed_at` is when it reached the
    repo (its upload or first commit there)."""
    large = [item for item in repo_contents(repo).values() if item.is_lfs]
    arrived = dict(
        RepoObject.objects.filter(repo=repo, sha256__in=[item.sha256 for item in large]).values_list(
            "sha256", "created_at"
        )
    )
    held_at = _refs_holding(repo)
    files = [LfsFile(item, arrived.get(item.sha256, item.committed_at), held_at.get(item.sha256)) for item in large]
    return sorted(files, key=lambda f: (f.pushed_at, f.content.sha256), reverse=True)


def _refs_holding(repo: Repo) -> dict[str, str]:
    """sha256 -> the first ref (default branch, other branches, tags, then pull requests, each by
    name) whose head commit holds that content."""
    order: dict[str, int] = {RefKind.BRANCH: 1, RefKind.TAG: 2}
    default = f"refs/heads/{repo.default_branch}"
    refs = sorted(
        Ref.objects.filter(repo=repo).values_list("name", "kind", "commit_oid"),
        key=lambda ref: (ref[0] != default, order.get(ref[1], 3), ref[0]),
    )
    tree_of = dict(Commit.objects.filter(repo=repo, oid__in=[ref[2] for ref in refs]).values_list("oid", "tree_oid"))
    held_at: dict[str, str] = {}
    seen: set[str] = set()  # a subtree met under an earlier ref gave its content to that ref
    for name, _kind, commit_oid in refs:
        found: dict[str, StoredContent] = {}
        if commit_oid in tree_of:
            _walk(tree_of[commit_oid], "", datetime.min, seen, found)
        for sha256 in found:
            held_at.setdefault(sha256, name)
    return held_at
