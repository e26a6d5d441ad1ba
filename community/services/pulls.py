"""Pull requests: a discussion plus the ref `refs/pr/N`, forked from its base branch.

Opening one creates the ref at the base head (or a given commit); commits to the ref are recorded
as `commit` events; merging applies the pull request's changes (merge base -> head) on top of the
base head as one new commit through `registry.services.commit_create`, refused on conflicts.
"""

from __future__ import annotations

import re

from django.db import transaction

from accounts.models import User
from community.diffs import changed_files, conflicting_paths
from community.models import Discussion, EventType, Status
from community.services.common import (
    MAX_COMMENT,
    add_comment,
    add_event,
    clean_text,
    clean_title,
    next_number,
    notify,
    throttle,
)
from core.errors import BadRequest, Conflict, RevisionNotFound
from registry import services as registry_services
from registry.git import trees
from registry.models import Commit, Ref, RefKind, Repo
from registry.selectors import commit_tree_oid

PR_REF = re.compile(r"^refs/pr/([1-9][0-9]{0,8})$")


def _base_ref(repo: Repo, base_branch: str) -> Ref:
    name = base_branch if base_branch.startswith("refs/heads/") else f"refs/heads/{base_branch}"
    ref = Ref.objects.filter(repo=repo, name=name).first()
    if ref is None:
        raise RevisionNotFound(base_branch)
    return ref


@transaction.atomic
def pull_request_open(
    *,
    repo: Repo,
    author: User,
    title: str | None,
    description: str | None,
    base_branch: str | None = None,
    start_oid: str | None = None,
    draft: bool = True,
) -> Discussion:
    """Open a pull request against `base_branch` (default branch), forked at its head or at
    `start_oid`. Opened empty from the discussions API it is a draft; opened by a commit
    (`create_pr=1`) it is open."""
    title = clean_title(title[:200] if isinstance(title, str) else title)
    description = clean_text(description, field="description", max_length=MAX_COMMENT, required=False)
    base = _base_ref(repo, base_branch or repo.default_branch)
    fork = _by_prefix(repo, start_oid) if start_oid else base.commit_oid
    throttle(author)
    discussion = Discussion.objects.create(
        repo=repo,
        num=next_number(repo),
        title=title,
        author=author,
        is_pull_request=True,
        status=Status.DRAFT if draft else Status.OPEN,
        base_ref=base.name,
        merge_base_oid=fork,
    )
    Ref.objects.create(repo=repo, name=discussion.ref_name, kind=RefKind.PULL_REQUEST, commit_oid=fork)
    opening = add_comment(discussion, author=author, raw=description or title)
    notify(opening, new_thread=True)
    return discussion


@transaction.atomic
def pull_request_open_with_files(
    *, repo: Repo, author: User, title: str, description: str, operations: list, summary: str
) -> Discussion:
    """The portal's new pull request: opened and its first commit made together, or neither.
    Without files it is an empty draft."""
    discussion = pull_request_open(repo=repo, author=author, title=title, description=description, draft=not operations)
    if operations:
        registry_services.commit_create(
            repo=repo,
            branch=discussion.ref_name,
            ref_name=discussion.ref_name,
            operations=operations,
            summary=summary,
            author=author,
        )
    return discussion


def _by_prefix(repo: Repo, prefix: str) -> str:
    """A full or short commit id (the client allows 5 to 40 hex digits for `parent_commit`). Its
    only source is a commit's `parentCommit` (`hooks.open_for_commit`), which registry.api.commit
    validated (`validate_parent_commit`) before reading the body."""
    matches = list(Commit.objects.filter(repo=repo, oid__startswith=prefix.lower()).values_list("oid", flat=True)[:2])
    if len(matches) != 1:
        raise RevisionNotFound(prefix)
    return matches[0]


def pull_request_record_commit(*, repo: Repo, ref_name: str, commit: Commit) -> None:
    """Commit listener (runs inside the commit's transaction): a push to refs/pr/N is an event."""
    match = PR_REF.match(ref_name)
    if match is None:
        return
    discussion = Discussion.objects.filter(repo=repo, num=int(match.group(1)), is_pull_request=True).first()
    if discussion is None:
        return
    event = add_event(
        discussion, kind=EventType.COMMIT, author=commit.author, data={"oid": commit.oid, "subject": commit.title}
    )
    notify(event)


def _merge_operations(repo: Repo, changes: dict, base_tree: str) -> list:
    """The pull request's changes as operations on the base tree: deletions first, so that a file
    replaced by a folder of the same name applies cleanly; changes the base already has are skipped."""

    deletions, additions = [], []
    for path, (_, after) in sorted(changes.items()):
        current = trees.find_entry(base_tree, path)
        current_oid = current["oid"] if current and current["type"] == "file" else None
        if after is None:
            if current_oid is not None:
                deletions.append(registry_services.DeleteFile(path))
        elif current_oid != after["oid"]:
            additions.append(registry_services.blob_stage_entry(repo=repo, path=path, entry=after))
    return deletions + additions


@transaction.atomic
def pull_request_merge(*, discussion: Discussion, actor: User, comment: str = "") -> Discussion:
    """Merge into the base branch as one new commit on it; status `merged`, `merge_commit_oid` set."""
    comment = clean_text(comment, field="comment", max_length=MAX_COMMENT, required=False)
    discussion = Discussion.objects.select_for_update().select_related("repo").get(pk=discussion.pk)
    _check_mergeable(discussion)
    repo = discussion.repo
    # Lock both refs: neither the base nor the pull request can move while the merge is computed.
    base = Ref.objects.select_for_update().filter(repo=repo, name=discussion.base_ref).first()
    head = Ref.objects.select_for_update().filter(repo=repo, name=discussion.ref_name).first()
    if base is None or head is None:
        raise BadRequest("The base branch or the pull request's ref no longer exists.")
    fork_tree = commit_tree_oid(repo, discussion.merge_base_oid)
    base_tree, head_tree = commit_tree_oid(repo, base.commit_oid), commit_tree_oid(repo, head.commit_oid)
    conflicts = conflicting_paths(fork_tree, base_tree, head_tree)
    if conflicts:
        raise Conflict(
            f"This pull request has conflicts with {base.short_name}: {', '.join(conflicts[:20])}.",
            extra={"filesWithConflicts": conflicts},
        )
    operations = _merge_operations(repo, changed_files(fork_tree, head_tree), base_tree)  # type: ignore[arg-type]
    if not operations:
        raise BadRequest("This pull request has no changes to merge.")
    if comment:
        throttle(actor)
        add_comment(discussion, author=actor, raw=comment)
    merged = registry_services.commit_create(
        repo=repo,
        branch=base.short_name,
        ref_name=base.name,
        operations=operations,
        summary=f"{discussion.title} (#{discussion.num})",
        description=f"Merge pull request #{discussion.num} ({discussion.ref_name}).",
        author=actor,
        parent_commit=base.commit_oid,
    )
    discussion.status, discussion.merge_commit_oid = Status.MERGED, merged.oid
    discussion.save(update_fields=["status", "merge_commit_oid"])
    notify(add_event(discussion, kind=EventType.STATUS_CHANGE, author=actor, data={"status": Status.MERGED}))
    return discussion


def _check_mergeable(discussion: Discussion) -> None:
    if not discussion.is_pull_request:
        raise BadRequest("Only pull requests can be merged.")
    if discussion.status == Status.MERGED:
        raise BadRequest("This pull request is already merged.")
    if discussion.status == Status.DRAFT:
        raise BadRequest("This pull request is a draft: publish it (set its status to open) before merging.")
    if discussion.status == Status.CLOSED:
        raise BadRequest("This pull request is closed: reopen it before merging.")
