"""The policy's vocabulary: what is asked (`Action`), who asks (`Principal`), and what the policy
learnt and answered (`RepoAccess`, `DownloadDecision`). `gating.policy` decides; import from there."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from accounts import permissions
from accounts.models import AccessToken, Role, TokenRole, User
from registry.models import Repo
from registry.selectors import RevisionHint


class Action(StrEnum):
    VIEW = "view"
    READ_DISCUSSIONS = "read_discussions"  # VIEW, but not of a repo taken down (its threads may be why)
    PARTICIPATE = "participate"
    PUSH = "push"  # the gate of the push routes: a branch (WRITE) or a pull request (PARTICIPATE)
    DOWNLOAD = "download"
    PREVIEW = "preview"
    REVIEW_READ = "review_read"  # list access requests (the Hub's repo.access.read)
    REVIEW = "review"  # decide them
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
        """Session users and classic write tokens. SECURITY: a read token never writes, whatever
        the role; a fine-grained token writes only where `permissions_on` says (False here)."""
        return self.user is not None and (self.token is None or self.token.role == TokenRole.WRITE)

    @property
    def is_fine_grained(self) -> bool:
        return self.token is not None and self.token.is_fine_grained

    @property
    def fine_grained(self) -> permissions.FineGrained | None:
        return None if self.token is None else self.token.fine_grained_permissions

    def permissions_on(self, *entities: tuple[str, int | None]) -> frozenset[str]:
        """What the caller's credentials allow on an entity, named by its (kind, pk) pairs (a repo
        is itself, its owner org or its owner user: `repo_entities`). Sessions and classic write
        tokens: everything; classic read tokens: the reads; fine-grained tokens: their scopes on
        those entities plus their global permissions. The caller's *role* is decided apart."""
        if self.user is None:
            return frozenset()
        fine = self.fine_grained
        if fine is None:
            return permissions.ALL if self.may_write else permissions.CLASSIC_READ
        return self.scoped_on(*entities) | fine.global_permissions

    def scoped_on(self, *entities: tuple[str, int | None]) -> frozenset[str]:
        """A fine-grained token's scoped permissions on those entities (without the global ones).
        SECURITY: a user entity counts only when it is the token's own user."""
        fine = self.fine_grained
        if fine is None or self.user is None:
            return frozenset()
        uid = self.user.pk
        return fine.scoped_on((kind, pk) for kind, pk in entities if kind != permissions.USER or pk == uid)


def repo_entities(repo: Repo) -> tuple[tuple[str, int | None], ...]:
    """The entities a token may name to reach `repo`: the repo and its owning namespace."""
    return ((permissions.REPO, repo.pk), (permissions.ORG, repo.owner_org_id), (permissions.USER, repo.owner_user_id))


def token_reaches(principal: Principal, repo: Repo) -> bool:
    """Whether the caller's credentials reach `repo` at all: always, but for fine-grained tokens,
    whose scopes must name it (or, for public gated repos, `canReadGatedRepos`). A token that
    does not reach a repo leaves the caller's role on it behind (`repo_role`)."""
    fine = principal.fine_grained
    if fine is None:
        return True
    # SECURITY (found by an outsider attack): only repo permissions reach a repo; a token made
    # for collections, webhooks or previews on a namespace read every private repo of it.
    if principal.scoped_on(*repo_entities(repo)) & permissions.REPO_REACHING:
        return True
    return fine.can_read_gated_repos and bool(repo.gated) and not repo.private


ANONYMOUS = Principal(user=None)
_UNKNOWN: Any = object()


@dataclass(eq=False)
class RepoAccess:
    """A repo as the policy resolved it for one caller, and what the decisions about the two
    need, each learnt at most once: the caller's role on the repo (on first use), and the facts
    found with the repo's row (None: not known, looked up when needed): whether it has a release
    plan, whether its author opted in to license acknowledgment, and for downloads the best ref
    among the URL's revision candidates (registry.selectors.RevisionHint).

    Made by `policy.resolve_repo`/`resolve_repo_by_pk`, which decide visibility first; code that
    holds a repo found another way (a signed upload URL, a mail's recipients) builds one itself,
    and the checks it then calls (never VIEW) still decide everything but visibility."""

    principal: Principal
    repo: Repo
    revision_hint: RevisionHint | None = None
    has_release_plan: bool | None = None
    acknowledgment_opt_in: bool | None = None
    _role: Any = field(default=_UNKNOWN, init=False, repr=False)

    @property
    def role(self) -> str | None:
        if self._role is _UNKNOWN:
            from gating.policy import repo_role  # the decision is the policy's; it imports this module

            self._role = repo_role(self.principal, self.repo)
        return self._role

    def __copy__(self) -> RepoAccess:
        """Cached lookups hand out copies: callers may change their repo, never the cache's."""
        return dataclasses.replace(self, repo=copy.copy(self.repo))


@dataclass(frozen=True)
class DownloadDecision:
    """`check_download`'s yes. SECURITY: `depends_on_caller` when the file is served because of
    who the caller is (visibility, a role, a grant, an acknowledged license, a release stage
    that spares them): such an answer must be `Cache-Control: private`, kept by no shared cache."""

    depends_on_caller: bool


# Roles on a repo, by rank. An organisation's `contributor` is never a role on a repo: the policy
# makes it `write` on the repos they created and `read` on the others (gating.policy.repo_role).
ROLE_RANK: dict[str | None, int] = {None: 0, Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}
