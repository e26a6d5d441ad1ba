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
def branch_delete(*, repo: Repo, branch: str) -> None:
    if branch == repo.default_branch:
        raise BadRequest(f"Cannot delete refs/heads/{branch}: it is the repo's default branch.")
    old_oid = Ref.objects.filter(repo=repo, name=f"refs/heads/{branch}").values_list("commit_oid", flat=True).first()
    deleted, _ = Ref.objects.filter(repo=repo, name=f"refs/heads/{branch}").delete()
    if not deleted:
        raise RevisionNotFound(branch)
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
def tag_delete(*, repo: Repo, tag: str) -> None:
    old_oid = Ref.objects.filter(repo=repo, name=f"refs/tags/{tag}").values_list("commit_oid", flat=True).first()
    deleted, _ = Ref.objects.filter(repo=repo, name=f"refs/tags/{tag}").delete()
    if not deleted:
        raise RevisionNotFound(tag)
    _ref_changed(repo, f"refs/tags/{tag}", old_oid, None)


def _ref_changed(repo: Repo, ref_name: str, old_oid: str | None, new_oid: str | None) -> None:
    """Branches and tags created or deleted are content events, as on the Hub (webhooks)."""
    hooks.repo_event_emit(
        hooks.RepoEvent(
            repo_pk=repo.pk, scope="repo.content", action="update", updated_refs=((ref_name, old_oid, new_oid),)
        )
    )
