"""Creating and deleting repos."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, User
from core.errors import BadRequest, Conflict
from core.names import validate_repo_name
from registry import hooks, lfsrules
from registry.models import GatedMode, Repo, RepoRedirect, RepoType
from registry.services.commits import commit_create, stage_bytes


def _owner_for_namespace(namespace: str) -> tuple[User | None, Organization | None]:
    user = User.objects.filter(username=namespace).first()
    if user is not None:
        return user, None
    org = Organization.objects.filter(name=namespace).first()
    if org is not None:
        return None, org
    raise BadRequest(f"Unknown namespace {namespace!r}.")


def repo_create(
    *, namespace: str, name: str, repo_type: str = RepoType.MODEL, private: bool = False, creator: User
) -> Repo:
    """A new repo with the Hub's initial commit (a `.gitattributes` with the LFS patterns).

    The caller has checked (through the policy) that `creator` may create repos in `namespace`.
    """
    validate_repo_name(name)
    if repo_type not in RepoType.values:
        raise BadRequest(f"Unsupported repo type {repo_type!r}; expected 'model' or 'dataset'.")
    owner_user, owner_org = _owner_for_namespace(namespace)
    attributes = stage_bytes(
        repo=None, path=".gitattributes", content=lfsrules.DEFAULT_GITATTRIBUTES.encode(), lfs=False, proof_from=None
    )
    with transaction.atomic():
        taken = Repo.objects.filter(repo_type=repo_type, namespace=namespace, name__iexact=name).first()
        if taken is not None and taken.deleted_at is not None:
            raise Conflict(_reserved_message(taken))
        if taken is not None:
            raise Conflict(f"You already created this {repo_type} repo")
        try:
            with transaction.atomic():
                repo = Repo.objects.create(
                    repo_type=repo_type,
                    namespace=namespace,
                    name=name,
                    owner_user=owner_user,
                    owner_org=owner_org,
                    private=private,
                )
        except IntegrityError as exc:
            raise Conflict(f"You already created this {repo_type} repo") from exc
        commit_create(
            repo=repo,
            branch=repo.default_branch,
            operations=[attributes],
            summary="initial commit",
            author=creator,
            create_branch=True,
        )
    return repo


def _reserved_message(repo: Repo) -> str:
    until = repo_purge_due(repo).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"The {repo.repo_type} repo {repo.repo_id} was deleted and keeps its name until {until}: "
        "its owner can restore it (POST /api/repos/restore) or delete it for good (POST /api/repos/purge)."
    )


def repo_purge_due(repo: Repo) -> datetime:
    assert repo.deleted_at is not None
    return repo.deleted_at + timedelta(days=settings.GATEHOUSE_REPO_DELETE_GRACE_DAYS)


@transaction.atomic
def repo_delete(*, repo: Repo) -> None:
    """Deleting is recoverable: the repo, its history and its content are kept, invisible to
    everyone (gating.policy treats it as missing) and with its name reserved, for
    GATEHOUSE_REPO_DELETE_GRACE_DAYS; then `repos_purge_deleted` removes it for good."""
    Repo.objects.filter(pk=repo.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())


@transaction.atomic
def repo_restore(*, repo: Repo) -> Repo:
    """The caller resolved `repo` through gating.policy.resolve_deleted_repo."""
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    locked.deleted_at = None
    locked.save(update_fields=["deleted_at"])
    return locked


@transaction.atomic
def repo_purge(*, repo: Repo) -> None:
    """History rows go with the repo; blobs stay until the garbage collector finds them unused."""
    Repo.objects.filter(pk=repo.pk).delete()


def repos_purge_deleted(*, now: datetime | None = None) -> int:
    """Purge the repos whose grace period is over, one transaction each; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.GATEHOUSE_REPO_DELETE_GRACE_DAYS)
    purged = 0
    for pk in Repo.objects.filter(deleted_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            # Restored meanwhile: the row lock and the repeated condition keep it.
            purged += (
                Repo.objects.select_for_update()
                .filter(pk=pk, deleted_at__lt=cutoff)
                .delete()[1]
                .get("registry.Repo", 0)
            )
    return purged


@transaction.atomic
def repo_settings_update(
    *, repo: Repo, private: bool | None = None, gated: str | bool | None = None, actor: User | None = None
) -> Repo:
    """Visibility and gating mode. `gated` takes the Hub's values: False, "auto" or "manual"."""
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    before = {"private": locked.private, "gated": locked.gated}
    fields = []
    if private is not None:
        if not isinstance(private, bool):
            raise BadRequest("'private' must be true or false.")
        locked.private = private
        fields.append("private")
    if gated is not None:
        value = "" if gated is False or gated == "false" else gated
        if value not in GatedMode.values:
            raise BadRequest("'gated' must be false, 'auto' or 'manual'.")
        locked.gated = value
        fields.append("gated")
    if fields:
        locked.save(update_fields=fields)
        changes = {key: (before[key], getattr(locked, key)) for key in fields if before[key] != getattr(locked, key)}
        if changes:
            for callback in hooks.settings_changed:
                callback(locked, actor, changes)
    return locked


@transaction.atomic
def repo_move(*, repo: Repo, to_namespace: str, to_name: str) -> Repo:
    """Rename or transfer a repo. The old id keeps answering with redirects (as on the Hub).

    The caller has checked that the actor administers `repo` and may create repos in `to_namespace`.
    """

    validate_repo_name(to_name)
    owner_user, owner_org = _owner_for_namespace(to_namespace)
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    if (locked.namespace, locked.name) == (to_namespace, to_name):
        raise BadRequest("The repo already has this id.")
    taken = Repo.objects.filter(repo_type=locked.repo_type, namespace=to_namespace, name__iexact=to_name)
    holder = taken.exclude(pk=locked.pk).first()
    if holder is not None and holder.deleted_at is not None:
        raise Conflict(_reserved_message(holder))
    if holder is not None:
        raise Conflict(f"A {locked.repo_type} repo {to_namespace}/{to_name} already exists.")
    RepoRedirect.objects.update_or_create(
        repo_type=locked.repo_type, namespace=locked.namespace, name=locked.name, defaults={"repo": locked}
    )
    # Moving back onto an old id: that id is a real repo again, not a redirect.
    RepoRedirect.objects.filter(repo_type=locked.repo_type, namespace=to_namespace, name=to_name).delete()
    locked.namespace, locked.name = to_namespace, to_name
    locked.owner_user, locked.owner_org = owner_user, owner_org
    locked.save(update_fields=["namespace", "name", "owner_user", "owner_org"])
    return locked
