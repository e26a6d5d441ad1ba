"""THE access decision for repos. Every view that touches a repo goes through `resolve_repo`;
listings go through `repos_visible_to`. Both are built from the same visibility expression.

Rules:
- Visibility: public repos are visible to everyone; private ones only to the owner and to members
  of the owning organisation. SECURITY: a repo the caller cannot see raises `RepoNotFound`, the
  very same error a missing repo raises, so responses cannot tell the two apart.
- Metadata (info, tree, refs, commits, card) needs visibility only, gated or not, as on the Hub.
- File content needs visibility plus, on gated repos, a role on the repo or an approved request.
- Writes need a write or admin role *and* a token that allows writes (read tokens never write).
- Managing (settings, delete, move, review access) needs the admin role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet

from accounts.models import AccessToken, Membership, Role, TokenRole, User
from core.errors import (
    AuthenticationRequired,
    DisabledRepo,
    Forbidden,
    GatedRepo,
    RepoMoved,
    RepoNotFound,
)
from core.names import split_repo_id
from registry.models import Repo, RepoRedirect


class Action(StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    WRITE = "write"
    MANAGE = "manage"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (or nobody) and, for API calls, the token they used."""

    user: User | None
    token: AccessToken | None = None

    @classmethod
    def from_request(cls, request) -> Principal:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return ANONYMOUS
        token = getattr(request, "auth", None)
        return cls(user=user, token=token if isinstance(token, AccessToken) else None)

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def may_write(self) -> bool:
        """Session users and write tokens; SECURITY: a read token never writes, whatever the role."""
        return self.user is not None and (self.token is None or self.token.role == TokenRole.WRITE)


ANONYMOUS = Principal(user=None)
_ROLE_RANK: dict[str | None, int] = {None: 0, Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}


def visible_q(principal: Principal) -> Q:
    """The one visibility expression, used for single repos and for listings alike."""
    if principal.user is None:
        return Q(private=False)
    member_orgs = Membership.objects.filter(user=principal.user).values("org_id")
    return Q(private=False) | Q(owner_user=principal.user) | Q(owner_org_id__in=member_orgs)


def repos_visible_to(principal: Principal) -> QuerySet[Repo]:
    return Repo.objects.filter(visible_q(principal))


def repo_role(principal: Principal, repo: Repo) -> str | None:
    """The caller's role on the repo: admin for the owner, the membership role in the owning org."""
    user = principal.user
    if user is None:
        return None
    if repo.owner_user_id is not None:
        return Role.ADMIN if repo.owner_user_id == user.pk else None
    return Membership.objects.filter(org_id=repo.owner_org_id, user=user).values_list("role", flat=True).first()


def namespace_role(principal: Principal, namespace: str) -> str | None:
    """Role in a namespace, for creating repos there: admin of one's own, the membership role in an org."""
    user = principal.user
    if user is None:
        return None
    if namespace == user.username:
        return Role.ADMIN
    return Membership.objects.filter(org__name=namespace, user=user).values_list("role", flat=True).first()


def can_create_in(principal: Principal, namespace: str) -> bool:
    return principal.may_write and _ROLE_RANK[namespace_role(principal, namespace)] >= _ROLE_RANK[Role.WRITE]


def _find_visible(principal: Principal, repo_type: str, namespace: str, name: str) -> Repo | None:
    return (
        Repo.objects.filter(visible_q(principal), repo_type=repo_type, namespace=namespace, name=name)
        .select_related("owner_user", "owner_org")
        .first()
    )


def _moved_target(principal: Principal, repo_type: str, namespace: str, name: str) -> Repo | None:
    redirect = RepoRedirect.objects.filter(repo_type=repo_type, namespace=namespace, name=name).first()
    if redirect is None:
        return None
    return Repo.objects.filter(visible_q(principal), pk=redirect.repo_id).first()


def resolve_repo(principal: Principal, repo_type: str, repo_id: str, action: Action) -> Repo:
    """The repo, if `principal` may perform `action` on it; otherwise the error to answer with."""
    namespace, name = split_repo_id(repo_id)
    repo = _find_visible(principal, repo_type, namespace, name)
    if repo is None:
        moved = _moved_target(principal, repo_type, namespace, name)
        if moved is not None:
            raise RepoMoved(old_id=f"{namespace}/{name}", new_id=moved.repo_id)
        raise RepoNotFound(anonymous=principal.is_anonymous)
    check(principal, repo, action)
    return repo


def check(principal: Principal, repo: Repo, action: Action) -> None:
    """Raise unless `principal`, who can see `repo`, may perform `action` on it."""
    if action == Action.VIEW:
        return
    role = repo_role(principal, repo)
    if action == Action.DOWNLOAD:
        if repo.disabled and role is None:
            raise DisabledRepo()
        if repo.gated and role is None:
            _check_gate(principal, repo)
        return
    if principal.user is None:
        raise AuthenticationRequired()
    needed = Role.WRITE if action == Action.WRITE else Role.ADMIN
    if _ROLE_RANK[role] < _ROLE_RANK[needed]:
        raise Forbidden(f"You don't have {needed} access to {repo.repo_id}.")
    if not principal.may_write:
        raise Forbidden("This token is read-only: create a token with the write role to make changes.")


def can(principal: Principal, repo: Repo, action: Action) -> bool:
    try:
        check(principal, repo, action)
    except (AuthenticationRequired, Forbidden, GatedRepo, DisabledRepo):
        return False
    return True


def _check_gate(principal: Principal, repo: Repo) -> None:
    """Gated repos: only users with a role pass for now; access requests extend this."""
    kind = "dataset" if repo.repo_type == "dataset" else "model"
    if principal.user is None:
        raise GatedRepo(
            f"Access to {kind} {repo.repo_id} is restricted. You must have access to it and be "
            "authenticated to access it. Please log in.",
            anonymous=True,
        )
    raise GatedRepo(
        f"Access to {kind} {repo.repo_id} is restricted and you are not in the authorized list.",
        anonymous=False,
    )
