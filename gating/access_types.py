"""The policy's vocabulary: what is asked (`Action`), who asks (`Principal`), and what the policy
learnt and answered (`RepoAccess`, `DownloadDecision`). `gating.policy` decides; import from there."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from accounts.models import AccessToken, Role, TokenRole, User
from registry.models import Repo
from registry.selectors import RevisionHint


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
