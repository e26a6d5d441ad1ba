"""THE access decision for repos. Every view that touches a repo goes through `resolve_repo`;
listings go through `repos_visible_to`. Both are built from the same visibility expression.

Rules:
- Visibility: public repos are visible to everyone; private ones only to the owner and to members
  of the owning organisation. SECURITY: a repo the caller cannot see raises `RepoNotFound`, the
  very same error a missing repo raises, so responses cannot tell the two apart.
- Metadata (info, tree, refs, commits, card) needs visibility only, gated or not, as on the Hub.
- File content needs visibility plus, on gated repos, a role on the repo or an accepted request
  that has not expired. Files withheld by the current release stage need a role on the repo.
- Writes need a write or admin role *and* a token that allows writes (read tokens never write).
- Managing (settings, delete, move, release plan, audit trail) needs the admin role.
- Reviewing access requests needs the admin role or a delegation as reviewer, and a token that
  allows writes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.core.exceptions import DisallowedHost
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils import timezone

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
from core.timeutil import isoformat_z
from gating.models import AccessRequest, ReleasePlan, ReleaseStage, RepoReviewer, RequestStatus
from registry.models import Repo, RepoRedirect


class Action(StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    WRITE = "write"
    MANAGE = "manage"
    REVIEW = "review"


def _origin(request) -> str:
    try:
        return f"{request.scheme}://{request.get_host()}"
    except (DisallowedHost, AttributeError, KeyError):
        return ""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (or nobody) and, for API calls, the token they used.

    `origin` is the scheme and host the caller used, so that refusals can name the absolute URL
    to ask for access at ("" outside a request: the message then carries the path only)."""

    user: User | None
    token: AccessToken | None = None
    origin: str = ""

    @classmethod
    def from_request(cls, request) -> Principal:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return cls(user=None, origin=_origin(request))
        token = getattr(request, "auth", None)
        return cls(user=user, token=token if isinstance(token, AccessToken) else None, origin=_origin(request))

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def may_write(self) -> bool:
        """Session users and write tokens; SECURITY: a read token never writes, whatever the role."""
        return self.user is not None and (self.token is None or self.token.role == TokenRole.WRITE)


ANONYMOUS = Principal(user=None)
_ROLE_RANK = {None: 0, Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}


def _role_q(user: User) -> Q:
    """Repos on which `user` has a role: their own, and every repo of an org they belong to."""
    member_orgs = Membership.objects.filter(user=user).values("org_id")
    return Q(owner_user=user) | Q(owner_org_id__in=member_orgs)


def visible_q(principal: Principal) -> Q:
    """The one visibility expression, used for single repos and for listings alike."""
    if principal.user is None:
        return Q(private=False)
    return Q(private=False) | _role_q(principal.user)


def repos_visible_to(principal: Principal) -> QuerySet[Repo]:
    return Repo.objects.filter(visible_q(principal))


def active_grant_q(now: datetime) -> Q:
    """The one expression (over AccessRequest) for "this request lets its user download now"."""
    return Q(status=RequestStatus.ACCEPTED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def download_q(principal: Principal, now: datetime) -> Q:
    """Repos whose files `principal` may download: the listing form of `check(..., DOWNLOAD)`."""
    if principal.user is None:
        return Q(private=False, disabled=False, gated="")
    grant = AccessRequest.objects.filter(active_grant_q(now), repo=OuterRef("pk"), user=principal.user)
    open_to_all = Q(disabled=False) & (Q(gated="") | Exists(grant))
    return visible_q(principal) & (_role_q(principal.user) | open_to_all)


def repos_downloadable_by(principal: Principal) -> QuerySet[Repo]:
    return Repo.objects.filter(download_q(principal, timezone.now()))


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
    if action == Action.REVIEW:
        if role != Role.ADMIN and not is_delegated_reviewer(principal, repo):
            raise Forbidden(f"You are not a reviewer of access requests to {repo.repo_id}.")
    else:
        needed = Role.WRITE if action == Action.WRITE else Role.ADMIN
        if _ROLE_RANK[role] < _ROLE_RANK[needed]:
            raise Forbidden(f"You don't have {needed} access to {repo.repo_id}.")
    if not principal.may_write:
        raise Forbidden("This token is read-only: create a token with the write role to make changes.")


def is_delegated_reviewer(principal: Principal, repo: Repo) -> bool:
    return principal.user is not None and RepoReviewer.objects.filter(repo=repo, user=principal.user).exists()


def can(principal: Principal, repo: Repo, action: Action) -> bool:
    try:
        check(principal, repo, action)
    except (AuthenticationRequired, Forbidden, GatedRepo, DisabledRepo):
        return False
    return True


def ask_access_url(principal: Principal, repo: Repo) -> str:
    return f"{principal.origin}/{repo.url_prefix}{repo.repo_id}/ask-access"


def _kind(repo: Repo) -> str:
    return "dataset" if repo.repo_type == "dataset" else "model"


def _check_gate(principal: Principal, repo: Repo) -> None:
    """Gated repos, callers without a role: an accepted, unexpired request lets them through.

    SECURITY: one indexed lookup of the caller's own request; the refusal names its state (not
    requested, pending, rejected, expired) so the user knows what to do, and nothing else."""
    restricted = f"Access to {_kind(repo)} {repo.repo_id} is restricted"
    url = ask_access_url(principal, repo)
    if principal.user is None:
        raise GatedRepo(
            f"{restricted}. You must have access to it and be authenticated to access it. Please log in. "
            f"Then visit {url} to ask for access.",
            anonymous=True,
        )
    now = timezone.now()
    row = (
        AccessRequest.objects.filter(repo=repo, user=principal.user)
        .annotate(active=ExpressionWrapper(active_grant_q(now), output_field=BooleanField()))
        .values("active", "status", "expires_at", "rejection_reason")
        .first()
    )
    if row is not None and row["active"]:
        return
    raise GatedRepo(_refusal(restricted, url, row), anonymous=False)


def _refusal(restricted: str, url: str, row: dict | None) -> str:
    status = row["status"] if row else None
    if status == RequestStatus.PENDING:
        return f"{restricted}: your request for access is awaiting review by the repo's authors. See {url}."
    if status == RequestStatus.REJECTED:
        reason = f" Reason: {row['rejection_reason']}" if row["rejection_reason"] else ""
        return f"{restricted}: your request to access this repo has been rejected by the repo's authors.{reason}"
    if status in (RequestStatus.ACCEPTED, RequestStatus.EXPIRED):
        return f"{restricted}: your access expired at {isoformat_z(row['expires_at'])}. Visit {url} to ask again."
    return f"{restricted} and you are not in the authorized list. Visit {url} to ask for access."


def withheld_patterns(repo: Repo) -> list[str]:
    patterns = ReleasePlan.objects.filter(repo=repo).values_list("withheld_patterns", flat=True).first()
    return patterns or []


def is_withheld(path: str, patterns: list[str]) -> bool:
    """fnmatch, as the client's allow/ignore patterns ('*' crosses '/'); 'dir/' withholds a folder."""
    for pattern in patterns:
        if pattern.endswith("/") and path.startswith(pattern):
            return True
        if fnmatch.fnmatchcase(path, pattern):
            return True
    return False


def check_file(principal: Principal, repo: Repo, path: str) -> None:
    """Raise unless `principal`, who may download from `repo`, may download the file at `path`.

    Files withheld by the current release stage are served only to callers with a role on the
    repo; their metadata (tree, paths-info, card) stays visible."""
    patterns = withheld_patterns(repo)
    if not patterns or not is_withheld(path, patterns) or repo_role(principal, repo) is not None:
        return
    upcoming = (
        ReleaseStage.objects.filter(plan__repo=repo, plan__paused=False, position__gt=F("plan__position"))
        .exclude(scheduled_at=None)
        .order_by("position")
        .values_list("scheduled_at", flat=True)
        .first()
    )
    when = f" The next release stage is scheduled for {isoformat_z(upcoming)}." if upcoming else ""
    raise GatedRepo(
        f"{path} in {_kind(repo)} {repo.repo_id} is withheld in the current release stage.{when}",
        anonymous=principal.is_anonymous,
    )


def can_file(principal: Principal, repo: Repo, path: str) -> bool:
    try:
        check_file(principal, repo, path)
    except GatedRepo:
        return False
    return True
