"""Creating and deleting repos."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

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
        if Repo.objects.filter(repo_type=repo_type, namespace=namespace, name__iexact=name).exists():
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


@transaction.atomic
def repo_delete(*, repo: Repo) -> None:
    """History rows go with the repo; blobs stay until the garbage collector finds them unused."""
    repo.delete()


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
    if taken.exclude(pk=locked.pk).exists():
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


def repo_downloads_increment(*, repo: Repo) -> None:
    """One more download of `repo` (the caller applied the Hub's counting rule: selectors)."""
    Repo.objects.filter(pk=repo.pk).update(downloads=F("downloads") + 1)
