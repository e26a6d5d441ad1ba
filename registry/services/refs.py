"""Branches and tags."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import BadRequest, Conflict, RevisionNotFound
from registry import hooks
from registry.git.paths import validate_ref_name
from registry.models import Ref, RefKind, Repo
from registry.selectors import resolve_revision


@transaction.atomic
def branch_create(*, repo: Repo, branch: str, starting_point: str | None = None) -> Ref:
    validate_ref_name(branch, kind="branch")
    target = resolve_revision(repo, starting_point or repo.default_branch)
    try:
        with transaction.atomic():
            ref = Ref.objects.create(
                repo=repo, name=f"refs/heads/{branch}", kind=RefKind.BRANCH, commit_oid=target.commit_oid
            )
    except IntegrityError as exc:
        raise Conflict(f"Reference refs/heads/{branch} already exists") from exc
    for listener in hooks.branches_changed:
        listener(repo)
    _ref_changed(repo, ref.name, None, ref.commit_oid)
    return ref


@transaction.atomic
def branch_delete(*, repo: Repo, branch: str, old_oid: str | None = None) -> None:
    """Delete a branch; with `old_oid`, only while it still names that commit (else Conflict)."""
    if branch == repo.default_branch:
        raise BadRequest(f"Cannot delete refs/heads/{branch}: it is the repo's default branch.")
    old_oid = _ref_delete(repo, f"refs/heads/{branch}", branch, old_oid)
    for listener in hooks.branches_changed:
        listener(repo)
    _ref_changed(repo, f"refs/heads/{branch}", old_oid, None)


@transaction.atomic
def tag_create(*, repo: Repo, tag: str, revision: str, message: str = "") -> Ref:
    target = resolve_revision(repo, revision)  # a missing revision is a 404 before the name is judged
    validate_ref_name(tag, kind="tag")
    if len(message) > 10_000:
        raise BadRequest("The tag message is too long.")
    try:
        with transaction.atomic():
            ref = Ref.objects.create(
                repo=repo, name=f"refs/tags/{tag}", kind=RefKind.TAG, commit_oid=target.commit_oid, message=message
            )
    except IntegrityError as exc:
        raise Conflict(f"Reference refs/tags/{tag} already exists") from exc
    _ref_changed(repo, ref.name, None, ref.commit_oid)
    return ref


@transaction.atomic
def tag_delete(*, repo: Repo, tag: str, old_oid: str | None = None) -> None:
    """Delete a tag; with `old_oid`, only while it still names that commit (else Conflict)."""
    old_oid = _ref_delete(repo, f"refs/tags/{tag}", tag, old_oid)
    _ref_changed(repo, f"refs/tags/{tag}", old_oid, None)


def _ref_delete(repo: Repo, name: str, label: str, old_oid: str | None) -> str:
    """Delete the ref `name` (locked first); the commit it named."""
    ref = Ref.objects.select_for_update().filter(repo=repo, name=name).first()
    if ref is None:
        raise RevisionNotFound(label)
    if old_oid is not None and ref.commit_oid != old_oid:
        raise Conflict(f"{name} moved meanwhile: it no longer names {old_oid}.")
    Ref.objects.filter(pk=ref.pk, commit_oid=ref.commit_oid).delete()
    return ref.commit_oid


def _ref_changed(repo: Repo, ref_name: str, old_oid: str | None, new_oid: str | None) -> None:
    """Branches and tags created or deleted are content events, as on the Hub (webhooks)."""
    hooks.repo_event_emit(
        hooks.RepoEvent(
            repo_pk=repo.pk, scope="repo.content", action="update", updated_refs=((ref_name, old_oid, new_oid),)
        )
    )
