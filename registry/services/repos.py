"""Creating and deleting repos."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, User
from core.errors import BadRequest, Conflict
from core.names import fold, refuse_mirrored_namespace, validate_repo_name
from registry import hooks
from registry.git import lfsrules
from registry.models import GatedMode, Repo, RepoRedirect, RepoType, with_folded_id
from registry.selectors import repo_purge_due
from registry.services.commits import blob_stage, commit_create


def _owner_for_namespace(namespace: str) -> tuple[User | None, Organization | None]:
    refuse_mirrored_namespace(namespace)
    user = User.objects.filter(username=namespace).first()
    if user is not None:
        return user, None
    org = Organization.objects.filter(name=namespace).first()
    if org is not None:
        return None, org
    raise BadRequest(f"Unknown namespace {namespace!r}.")


def repo_create(
    *, namespace: str, name: str, repo_type: str = RepoType.MODEL, private: bool | None = None, creator: User
) -> Repo:
    """A new repo with the Hub's initial commit (a `.gitattributes` with the LFS patterns).

    The caller has checked (through the policy) that `creator` may create repos in `namespace`.
    `private=None` (the client did not say): the organisation's default visibility, else public.
    `creator` is recorded: an organisation's contributors write to the repos they created.
    """
    validate_repo_name(name)
    if repo_type not in RepoType.values:
        raise BadRequest(f"Unsupported repo type {repo_type!r}; expected 'model' or 'dataset'.")
    owner_user, owner_org = _owner_for_namespace(namespace)
    if private is None:
        private = owner_org is not None and owner_org.repos_private_by_default
    attributes = blob_stage(
        repo=None, path=".gitattributes", content=lfsrules.DEFAULT_GITATTRIBUTES.encode(), lfs=False, proof_from=None
    )
    with transaction.atomic():
        taken = _holder_of(repo_type, namespace, name).first()
        if taken is not None and taken.deleted_at is not None:
            raise Conflict(_reserved_message(taken))
        if taken is not None and taken.repo_id == f"{namespace}/{name}":
            raise Conflict(f"You already created this {repo_type} repo")
        if taken is not None:
            # Ids are case-insensitive: the Hub names the repo that holds the id, in its own case.
            raise Conflict(f"A {repo_type} repository called {taken.repo_id} already exists")
        try:
            with transaction.atomic():
                repo = Repo.objects.create(
                    repo_type=repo_type,
                    namespace=namespace,
                    name=name,
                    owner_user=owner_user,
                    owner_org=owner_org,
                    private=private,
                    created_by=creator,
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
        hooks.repo_event_emit(hooks.RepoEvent(repo_pk=repo.pk, scope="repo", action="create", actor_pk=creator.pk))
    return repo


def _holder_of(repo_type: str, namespace: str, name: str):
    """The repo (live or deleted) holding this id, whatever its case."""
    repos = Repo.objects.all()
    return with_folded_id(repos, repo_type=repo_type, folded_namespace=fold(namespace), folded_name=fold(name))


def _reserved_message(repo: Repo) -> str:
    until = repo_purge_due(repo=repo).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"The {repo.repo_type} repo {repo.repo_id} was deleted and keeps its name until {until}: "
        "its owner can restore it (POST /api/repos/restore) or delete it for good (POST /api/repos/purge)."
    )


@transaction.atomic
def repo_delete(*, repo: Repo) -> None:
    """Deleting is recoverable: the repo, its history and its content are kept, invisible to
    everyone (gating.policy treats it as missing) and with its name reserved, for
    GATEHOUSE_REPO_DELETE_GRACE_DAYS; then `repos_purge_deleted` removes it for good."""
    if Repo.objects.filter(pk=repo.pk, deleted_at__isnull=True).update(deleted_at=timezone.now()):
        hooks.repo_event_emit(hooks.RepoEvent(repo_pk=repo.pk, scope="repo", action="delete"))


@transaction.atomic
def repo_restore(*, repo: Repo) -> Repo:
    """The caller resolved `repo` through gating.policy.resolve_deleted_repo."""
    locked = Repo.objects.select_for_update().get(pk=repo.pk)
    if locked.deleted_at is not None:
        locked.deleted_at = None
        locked.save(update_fields=["deleted_at"])
        # Back for those who were told of its deletion; the Hub has no restore, so: `create`.
        hooks.repo_event_emit(hooks.RepoEvent(repo_pk=locked.pk, scope="repo", action="create"))
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
    if private is not None:  # a bool: the edge (core.edge.json_private) refused anything else
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
            hooks.repo_event_emit(
                hooks.RepoEvent(
                    repo_pk=locked.pk,
                    scope="repo.config",
                    action="update",
                    actor_pk=actor.pk if actor else None,
                    updated_config={key: new for key, (_, new) in changes.items()},
                )
            )
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
    holder = _holder_of(locked.repo_type, to_namespace, to_name).exclude(pk=locked.pk).first()
    if holder is not None and holder.deleted_at is not None:
        raise Conflict(_reserved_message(holder))
    if holder is not None:
        raise Conflict(f"A {locked.repo_type} repository called {holder.repo_id} already exists")
    redirects = RepoRedirect.objects.all()
    # An old id redirects whatever its case; a move that only changes the case needs none.
    with_folded_id(
        redirects, repo_type=locked.repo_type, folded_namespace=fold(locked.namespace), folded_name=fold(locked.name)
    ).delete()
    if fold(locked.repo_id) != fold(f"{to_namespace}/{to_name}"):
        RepoRedirect.objects.create(
            repo_type=locked.repo_type, namespace=locked.namespace, name=locked.name, repo=locked
        )
    # Moving back onto an old id: that id is a real repo again, not a redirect.
    with_folded_id(
        redirects, repo_type=locked.repo_type, folded_namespace=fold(to_namespace), folded_name=fold(to_name)
    ).delete()
    old_id = locked.repo_id
    locked.namespace, locked.name = to_namespace, to_name
    locked.owner_user, locked.owner_org = owner_user, owner_org
    locked.save(update_fields=["namespace", "name", "owner_user", "owner_org"])
    hooks.repo_event_emit(hooks.RepoEvent(repo_pk=locked.pk, scope="repo", action="move", moved_from=old_id))
    return locked
