"""THE access decision for repos. Every view that touches a repo goes through `resolve_repo`;
listings go through `repos_visible_to`. Both are built from the same visibility expression.

Rules:
- Visibility: public repos are visible to everyone; private ones only to the owner and to members
  of the owning organisation. SECURITY: a repo the caller cannot see raises `RepoNotFound`, the
  very same error a missing repo raises, so responses cannot tell the two apart.
- Metadata (info, tree, refs, commits, card) needs visibility only, gated or not, as on the Hub.
- Participating (opening discussions and pull requests, commenting) needs visibility plus a
  signed-in caller whose token may write; gated repos take part like public ones, as on the Hub.
- File content needs visibility plus, on gated repos, a role on the repo or an approved request.
- Writes need a write or admin role *and* a token that allows writes (read tokens never write).
- Managing (settings, delete, move, release plans) needs the admin role.
- Reviewing access requests needs the admin role or a delegation as reviewer, and a write token.
- Gated repos: file content needs a role on the repo or an accepted, unexpired access request.
- Staged release: files matching the current stage's withheld patterns stay closed to everyone
  without a role; previews follow content access unless the stage makes them public.
- Licenses that ask for acknowledgment (RAIL family, or the author's opt-in): file content at a
  revision needs a role or the user's acceptance of the license text in force at that revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import connection
from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Concat

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
from core.prepared import PreparedQuery
from gating import lookup_cache, release
from gating.models import AccessRequest, ReleasePlan, RepoReviewer, RequestStatus
from licenses.models import RepoLicenseSettings
from licenses.selectors import RevisionLicense, acknowledgment_problem
from registry.models import Ref, Repo, RepoRedirect
from registry.selectors import Resolved, RevisionHint, commit_tree_oid


class Action(StrEnum):
    VIEW = "view"
    PARTICIPATE = "participate"
    DOWNLOAD = "download"
    PREVIEW = "preview"
    REVIEW = "review"
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
    return _visible_q(None if principal.user is None else principal.user.pk)


def _visible_q(user_id: int | None) -> Q:
    # SECURITY: a deleted repo is missing for everyone, its owner included, until it is restored
    # through resolve_deleted_repo; every finder below is built from this expression.
    alive = Q(deleted_at__isnull=True)
    if user_id is None:
        return alive & Q(private=False)
    member_orgs = Membership.objects.filter(user_id=user_id).values("org_id")
    return alive & (Q(private=False) | Q(owner_user_id=user_id) | Q(owner_org_id__in=member_orgs))


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


# `_find_visible` runs on every repo-scoped request (every HEAD before a download), so its SQL is
# compiled once per process (core.prepared) from the same `_visible_q` as listings. It stays one
# narrow query: the decision needs the owner ids on the row, not joined owner rows, and
# (repo_type, namespace, name) is unique, so no ORDER BY. Two facts ride along, so that the
# common download (no release plan, no license opt-in) needs no further query for them:
# `has_release_plan` and `acknowledgment_opt_in` (see _current_stage and licenses.selectors).
def _with_download_facts(queryset: QuerySet[Repo]) -> QuerySet[Repo]:
    return queryset.annotate(
        has_release_plan=Exists(ReleasePlan.objects.filter(repo=OuterRef("pk"))),
        acknowledgment_opt_in=Exists(
            RepoLicenseSettings.objects.filter(repo=OuterRef("pk"), require_acknowledgment=True)
        ),
    )


def _with_best_ref(queryset: QuerySet[Repo], names: list[str]) -> QuerySet[Repo]:
    """The first of `names` (best first) that is a ref of the repo, as its 40-hex commit id
    followed by its name: one sub-select rather than two (each costs PostgreSQL a sort)."""
    ranked = Ref.objects.filter(repo=OuterRef("pk"), name__in=names).annotate(
        rank=Case(*[When(name=name, then=Value(i)) for i, name in enumerate(names)], output_field=IntegerField()),
        hint=Concat("commit_oid", "name", output_field=CharField()),
    )
    return queryset.annotate(hint_ref=Subquery(ranked.order_by("rank").values("hint")[:1]))


# Downloads name a revision in the URL: with its candidate ref names, the repo and the ref come
# back in one query (registry.selectors.split_revision_path then needs none). A download needs
# nothing of the card's metadata, which can be large (eval results, gating forms): left behind.
MAX_HINTED_CANDIDATES = 16
_NOT_FOR_DOWNLOADS = ("card_data", "base_models")
_FIND_PUBLIC_AT = PreparedQuery(
    lambda repo_type, namespace, name, names: _with_best_ref(
        _with_download_facts(
            Repo.objects.filter(_visible_q(None), repo_type=repo_type, namespace=namespace, name=name)
        ),
        names,
    ).defer(*_NOT_FOR_DOWNLOADS)[:1]
)
_FIND_FOR_USER_AT = PreparedQuery(
    lambda user_id, repo_type, namespace, name, names: _with_best_ref(
        _with_download_facts(
            Repo.objects.filter(_visible_q(user_id), repo_type=repo_type, namespace=namespace, name=name)
        ),
        names,
    ).defer(*_NOT_FOR_DOWNLOADS)[:1]
)
_FIND_PUBLIC = PreparedQuery(
    lambda repo_type, namespace, name: _with_download_facts(
        Repo.objects.filter(_visible_q(None), repo_type=repo_type, namespace=namespace, name=name)
    )[:1]
)
_FIND_FOR_USER = PreparedQuery(
    lambda user_id, repo_type, namespace, name: _with_download_facts(
        Repo.objects.filter(_visible_q(user_id), repo_type=repo_type, namespace=namespace, name=name)
    )[:1]
)


def _find_visible(
    principal: Principal, repo_type: str, namespace: str, name: str, candidates: list[str] | None = None
) -> Repo | None:
    if principal.user is not None or not candidates or not lookup_cache.enabled():
        return _find_visible_uncached(principal, repo_type, namespace, name, candidates)
    # Anonymous download lookups are the same for everyone: kept per process until the repo changes.
    key = (repo_type, namespace, name, tuple(candidates))
    repo = lookup_cache.cache.get(key)
    if repo is not None:
        return repo
    generation = lookup_cache.cache.generation()  # before the read: see gating.lookup_cache
    repo = _find_visible_uncached(principal, repo_type, namespace, name, candidates)
    # Inside a transaction the read may come from a snapshot older than the generation: not stored.
    if repo is not None and not connection.in_atomic_block:
        lookup_cache.cache.put(key, repo.pk, repo, generation)
    return repo


def _find_visible_uncached(
    principal: Principal, repo_type: str, namespace: str, name: str, candidates: list[str] | None
) -> Repo | None:
    key: dict[str, str | int] = {"repo_type": repo_type, "namespace": namespace, "name": name}
    if principal.user is not None:
        key["user_id"] = principal.user.pk
    if not candidates or len(candidates) > MAX_HINTED_CANDIDATES:
        found = (_FIND_PUBLIC if principal.user is None else _FIND_FOR_USER)(**key)
        return found[0] if found else None
    found = (_FIND_PUBLIC_AT if principal.user is None else _FIND_FOR_USER_AT)(**key, names=candidates)
    if not found:
        return None
    repo = found[0]
    hint = repo.hint_ref or ""
    repo.revision_hint = RevisionHint(tuple(candidates), hint[40:] or None, hint[:40] or None)
    return repo


def _moved_target(principal: Principal, repo_type: str, namespace: str, name: str) -> Repo | None:
    redirect = RepoRedirect.objects.filter(repo_type=repo_type, namespace=namespace, name=name).first()
    if redirect is None:
        return None
    return Repo.objects.filter(visible_q(principal), pk=redirect.repo_id).first()


def resolve_repo(
    principal: Principal, repo_type: str, repo_id: str, action: Action, *, revision_candidates: list[str] | None = None
) -> Repo:
    """The repo, if `principal` may perform `action` on it; otherwise the error to answer with.
    `revision_candidates` (registry.selectors.revision_candidates) fetch the revision's ref too."""
    namespace, name = split_repo_id(repo_id)
    repo = _find_visible(principal, repo_type, namespace, name, revision_candidates)
    if repo is None:
        moved = _moved_target(principal, repo_type, namespace, name)
        if moved is not None:
            raise RepoMoved(old_id=f"{namespace}/{name}", new_id=moved.repo_id)
        raise RepoNotFound(anonymous=principal.is_anonymous)
    check(principal, repo, action)
    return repo


def resolve_repo_by_pk(principal: Principal, repo_pk: int, action: Action) -> Repo:
    """`resolve_repo` for callers that hold a repo's key rather than its name (Xet tokens):
    a repo that is gone or no longer visible to `principal` is missing, as everywhere else."""
    repo = Repo.objects.filter(visible_q(principal), pk=repo_pk).first()
    if repo is None:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    check(principal, repo, action)
    return repo


def is_operator(principal: Principal) -> bool:
    return principal.user is not None and principal.user.is_operator


def deleted_repos_restorable_by(principal: Principal) -> QuerySet[Repo]:
    """Deleted repos `principal` may restore or purge: an operator any, otherwise those they
    administer (their own, and those of the orgs they are an admin of). Write access only."""
    deleted = Repo.objects.filter(deleted_at__isnull=False)
    if principal.user is None or not principal.may_write:
        return deleted.none()
    if is_operator(principal):
        return deleted
    admin_of = Membership.objects.filter(user=principal.user, role=Role.ADMIN).values("org_id")
    return deleted.filter(Q(owner_user=principal.user) | Q(owner_org_id__in=admin_of))


def resolve_deleted_repo(principal: Principal, repo_type: str, repo_id: str) -> Repo:
    """A deleted repo, for restoring or purging it. SECURITY: to anyone else it is missing, with
    the same answer as a repo that never existed (and a live repo is missing here too)."""
    namespace, name = split_repo_id(repo_id)
    repo = deleted_repos_restorable_by(principal).filter(repo_type=repo_type, namespace=namespace, name=name).first()
    if repo is None:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    return repo


def check(principal: Principal, repo: Repo, action: Action) -> None:
    """Raise unless `principal`, who can see `repo`, may perform `action` on it."""
    if repo.deleted_at is not None:
        # SECURITY: callers holding a repo found another way (signed upload URLs, jobs) stop here.
        raise RepoNotFound(anonymous=principal.is_anonymous)
    if action == Action.VIEW:
        return
    if action == Action.PARTICIPATE:
        _check_participant(principal, repo)
        return
    if action in (Action.DOWNLOAD, Action.PREVIEW):
        if not repo.disabled and not repo.gated:
            return  # the hot path: public, ungated content needs no further query
        role = repo_role(principal, repo)
        if repo.disabled and role is None:
            raise DisabledRepo()
        if action == Action.PREVIEW and _previews_public(repo):
            return
        if repo.gated and role is None:
            _check_gate(principal, repo)
        return
    role = repo_role(principal, repo)
    if principal.user is None:
        raise AuthenticationRequired()
    if action == Action.REVIEW:
        if role != Role.ADMIN and not RepoReviewer.objects.filter(repo=repo, user=principal.user).exists():
            raise Forbidden(f"You are not a reviewer of {repo.repo_id}.")
    else:
        needed = Role.WRITE if action == Action.WRITE else Role.ADMIN
        if _ROLE_RANK[role] < _ROLE_RANK[needed]:
            raise Forbidden(f"You don't have {needed} access to {repo.repo_id}.")
    if not principal.may_write:
        raise Forbidden("This token is read-only: create a token with the write role to make changes.")


def _check_participant(principal: Principal, repo: Repo) -> None:
    if principal.user is None:
        raise AuthenticationRequired()
    if repo.disabled and repo_role(principal, repo) is None:
        raise DisabledRepo()
    if not principal.may_write:
        # SECURITY: posting is a write, so a read token cannot post either.
        raise Forbidden("This token is read-only: create a token with the write role to post.")


def check_may_ask_access(principal: Principal) -> None:
    """Asking for access records a request in the user's name and mails the reviewers. The Hub
    takes requests from the browser only (hub-behaviour.md), so nothing there lets a read token
    do it; SECURITY: here, as for posting, a read token cannot."""
    if not principal.may_write:
        raise Forbidden("This token is read-only: create a token with the write role to request access.")


def _current_stage(repo: Repo):
    """The release stage in force; no query when the repo was found without a plan."""
    if getattr(repo, "has_release_plan", True) is False:
        return None
    return release.current_stage(repo)


def check_file(principal: Principal, repo: Repo, path: str, *, tree_oids: tuple[str | None, ...]) -> None:
    """After `check(DOWNLOAD)`: files the current release stage still withholds, by path or, at
    the revisions whose trees are `tree_oids`, by content (the same bytes under another name)."""
    stage = _current_stage(repo)
    if stage is None:
        return
    withheld = release.is_withheld(stage, path) or release.is_content_withheld(stage, path, tree_oids)
    if not withheld or repo_role(principal, repo) is not None:
        return
    when = " It is scheduled for a later release stage." if _next_stage_time(stage) else ""
    raise GatedRepo(
        f"The file {path} of {repo.repo_id} is withheld in the current release stage.{when}",
        anonymous=principal.is_anonymous,
    )


def check_license(principal: Principal, repo: Repo, resolved: Resolved) -> None:
    """After `check(DOWNLOAD)`, once the revision is known: when its license asks for
    acknowledgment (RAIL family, or the author opted in), files are served only to users who
    accepted the exact license text in force at that revision. Roles on the repo are exempt."""
    problem = acknowledgment_problem(principal.user, repo, resolved)
    if problem is not None and repo_role(principal, repo) is None:
        raise GatedRepo(problem, anonymous=principal.is_anonymous)


def may_read_license_text(principal: Principal, repo: Repo, current: RevisionLicense) -> bool:
    """Whether the license page, API and access form may show `current`'s text to `principal`.

    The text is in force at a writer's revision and comes from a file named as a license (or
    from the catalogue: licenses.selectors), so it is shown to whoever may see the repo, gated
    or license-gated alike: the caller must read it to accept it or to ask for access. SECURITY:
    a file the current release stage withholds from the caller stays withheld here too."""
    if current.file_path is None:
        return True
    try:
        check_file(principal, repo, current.file_path, tree_oids=(commit_tree_oid(repo, current.commit_oid),))
    except GatedRepo:
        return False
    return True


def check_download(principal: Principal, repo: Repo, resolved: Resolved, path: str) -> None:
    """After `check(DOWNLOAD)`: the per-file and per-revision checks every download path makes
    (/resolve, the raw views, Xet reconstructions)."""
    check_file(principal, repo, path, tree_oids=(resolved.tree_oid,))
    check_license(principal, repo, resolved)


def anyone_may_download(repo: Repo, resolved: Resolved, path: str) -> bool:
    """Whether an anonymous caller would be served this file at this revision.

    SECURITY: when not, a caller who is served it gets it because of who they are (a role, an
    accepted access request, an acknowledged license, a release stage that spares them), so the
    answer must be `Cache-Control: private`: no shared cache may keep it for the next caller."""
    if repo.private or repo.gated or repo.disabled:
        return False
    try:
        check_download(ANONYMOUS, repo, resolved, path)
    except GatedRepo:
        return False
    return True


def check_preview_files(
    principal: Principal, repo: Repo, paths: list[str], resolved: Resolved | None = None, *, tree_oid: str | None
) -> None:
    """After `check(PREVIEW)`: a preview loads these files, so it is refused while the current
    release stage withholds any of them from the caller, or while the revision's license awaits
    the caller's acknowledgment, unless the stage makes previews public."""
    if _previews_public(repo):
        return
    for path in paths:
        check_file(principal, repo, path, tree_oids=(tree_oid,))
    if resolved is not None:
        check_license(principal, repo, resolved)


def _next_stage_time(stage) -> bool:
    return stage.plan.stages.filter(position__gt=stage.position, scheduled_at__isnull=False).exists()


def _previews_public(repo: Repo) -> bool:
    stage = _current_stage(repo)
    return stage is not None and stage.previews_public


def can(principal: Principal, repo: Repo, action: Action) -> bool:
    try:
        check(principal, repo, action)
    except (AuthenticationRequired, Forbidden, GatedRepo, DisabledRepo):
        return False
    return True


def ask_access_url(repo: Repo) -> str:
    return f"{settings.GATEHOUSE_PUBLIC_URL}{repo.web_path}/ask-access"


# Every download of a gated file looks up the caller's request; (repo, user) is unique.
_ACCESS_REQUEST = PreparedQuery(
    lambda repo_id, user_id: AccessRequest.objects.filter(repo_id=repo_id, user_id=user_id)[:1]
)


def access_state(user: User, repo: Repo) -> tuple[str, AccessRequest | None]:
    """'none', 'pending', 'rejected', 'expired' or 'accepted', and the request row if any."""
    found = _ACCESS_REQUEST(repo_id=repo.pk, user_id=user.pk)
    request = found[0] if found else None
    if request is None:
        return "none", None
    if request.status == RequestStatus.ACCEPTED and request.is_expired():
        return "expired", request
    return request.status, request


def _check_gate(principal: Principal, repo: Repo) -> None:
    """Gated repos: an accepted, unexpired request is the grant. The message says why not."""
    kind = "dataset" if repo.repo_type == "dataset" else "model"
    if principal.user is None:
        raise GatedRepo(
            f"Access to {kind} {repo.repo_id} is restricted. You must have access to it and be "
            f"authenticated to access it. Please log in, then visit {ask_access_url(repo)} to ask for access.",
            anonymous=True,
        )
    state, request = access_state(principal.user, repo)
    if state == "accepted":
        return
    url = ask_access_url(repo)
    reasons = {
        "none": f"you have not requested access yet. Visit {url} to ask for access.",
        "pending": f"your request is pending review. Visit {url} to see its status.",
        "rejected": "your request to access this repo has been rejected by the repo's authors"
        + (f" ({request.rejection_reason})." if request and request.rejection_reason else "."),
        "expired": f"your access expired. Visit {url} to ask for access again.",
    }
    raise GatedRepo(
        f"Access to {kind} {repo.repo_id} is restricted and you are not in the authorized list: {reasons[state]}",
        anonymous=False,
    )
