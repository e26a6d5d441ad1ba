"""JSON shapes of the Hub API, built as plain dicts: the client reads exact keys, so each shape is
written out in full here rather than inferred."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NotRequired, TypedDict

from django.utils.html import escape

from core.timeutil import isoformat_z
from registry.git import trees
from registry.models import Commit, Ref, Repo, RepoType
from registry.selectors import Resolved, card_summary_at


class TreeItemLfs(TypedDict):
    oid: str  # the content's sha256
    size: int
    pointerSize: int


class LastCommit(TypedDict):
    id: str
    title: str
    date: str


class TreeItem(TypedDict):
    """One entry of `/tree` and `/paths-info` (the Hub client's `RepoFile`/`RepoFolder`); a
    directory's `size` is 0. `lastCommit` and `securityFileStatus` come with `expand` only."""

    type: Literal["file", "directory"]
    oid: str
    size: int
    path: str
    lfs: NotRequired[TreeItemLfs]
    xetHash: NotRequired[str]
    lastCommit: NotRequired[LastCommit]
    securityFileStatus: NotRequired[dict]


def sibling(path: str, entry: trees.Entry, *, blobs: bool) -> dict:
    item: dict = {"rfilename": path}
    if blobs:
        item["size"] = entry["size"]
        item["blobId"] = entry["oid"]
        if entry.get("lfs"):
            lfs = entry["lfs"]
            item["lfs"] = {"size": lfs["size"], "sha256": lfs["sha256"], "pointerSize": lfs["pointerSize"]}
    return item


def repo_summary(repo: Repo) -> dict:
    """The fields of list items and of repo info that do not depend on a revision."""
    data = {
        "_id": f"{repo.pk:024x}",
        "id": repo.repo_id,
        "author": repo.namespace,
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": repo.disabled,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "lastModified": isoformat_z(repo.last_modified),
        "createdAt": isoformat_z(repo.created_at),
    }
    if repo.repo_type == RepoType.MODEL:
        data["modelId"] = repo.repo_id
    return data


def siblings(resolved: Resolved, *, blobs: bool) -> Iterator[dict]:
    """`siblings` of repo info, one file at a time."""
    return (sibling(path, entry, blobs=blobs) for path, entry in trees.iter_files(resolved.tree_oid))


def repo_info(
    repo: Repo, resolved: Resolved, *, blobs: bool = False, card: bool = True, with_siblings: bool = True
) -> dict:
    """Without `with_siblings`, the caller adds `siblings` itself (RepoInfoView streams them)."""
    summary = card_summary_at(repo.pk, resolved.tree_oid)
    data = repo_summary(repo)
    data.update({"sha": resolved.commit_oid, "tags": summary.tags})
    if with_siblings:
        data["siblings"] = list(siblings(resolved, blobs=blobs))
    data["usedStorage"] = repo.used_storage
    if summary.pipeline_tag:
        data["pipeline_tag"] = summary.pipeline_tag
    if summary.library_name:
        data["library_name"] = summary.library_name
    if card and summary.data:
        data["cardData"] = summary.data
    return data


def tree_item(path: str, entry: trees.Entry, xet_hashes: dict[str, str]) -> TreeItem:
    """`xet_hashes` maps the sha256 of Xet-stored content to its Xet hash (registry.storage.content)."""
    if entry["type"] == "directory":
        return {"type": "directory", "oid": entry["oid"], "size": 0, "path": path}
    item: TreeItem = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if entry.get("lfs"):
        lfs = entry["lfs"]
        item["lfs"] = {"oid": lfs["sha256"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]}
        if lfs["sha256"] in xet_hashes:
            item["xetHash"] = xet_hashes[lfs["sha256"]]
    return item


def last_commit_item(commit: Commit) -> LastCommit:
    return {"id": commit.oid, "title": commit.title, "date": isoformat_z(commit.created_at)}


def ref_item(ref: Ref) -> dict:
    return {"name": ref.short_name, "ref": ref.name, "targetCommit": ref.commit_oid}


def commit_item(commit: Commit, *, formatted: bool) -> dict:
    author = commit.author.username if commit.author else commit.author_name
    body = commit.message.split("\n", 1)[1].strip() if "\n" in commit.message.strip() else ""
    item: dict = {
        "id": commit.oid,
        "title": commit.title,
        "message": body,
        "date": isoformat_z(commit.created_at),
        "authors": [{"user": author}],
    }
    if formatted:
        item["formatted"] = {"title": escape(commit.title), "message": escape(body)}
    return item
