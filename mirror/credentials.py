"""Whose credentials ask the upstream: the caller's own upstream token, or nobody.

SECURITY: access decisions (can this caller see the repo, download this file) are asked of the
upstream with the caller's own token or anonymously, never with the operator's token, so the
operator's rights never let a user past an upstream gate or into a private repo. The operator's
token only fetches bytes the caller was already allowed (`content_token`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gating.policy import Principal
from mirror import crypto
from mirror.config import Upstream
from mirror.models import UpstreamCredential


@dataclass(frozen=True)
class Credential:
    token: str | None
    key: str  # names whose answers a cache entry holds: "anon", or the user and their token's version

    @property
    def is_anonymous(self) -> bool:
        return self.token is None


ANONYMOUS = Credential(token=None, key="anon")


def credential_for(principal: Principal, upstream: Upstream) -> Credential:
    """The caller's own upstream credentials. SECURITY (found by a review): a fine-grained token
    names what it may do here, and no permission of ours stands for a user's rights upstream, so
    its holder reaches upstreams anonymously (classic tokens and sessions carry the user's)."""
    if principal.user is None or principal.is_fine_grained:
        return ANONYMOUS
    row = UpstreamCredential.objects.filter(user=principal.user, upstream=upstream.name).first()
    if row is None:
        return ANONYMOUS
    token = crypto.decrypt(row.ciphertext)
    if token is None:
        return ANONYMOUS  # no configured key opens it: as if unset (the user sets it again)
    return Credential(token=token, key=f"u{principal.user.pk}.{row.pk}.{row.updated_at.timestamp():.6f}")


def operator_credential(upstream: Upstream) -> Credential:
    """SECURITY: only for a repo whose terms an operator accepted on the organisation's behalf
    (MirrorAcceptance), after the caller's own credentials met that repo's gate."""
    return Credential(token=upstream.operator_token, key="operator")


def content_token(upstream: Upstream, credential: Credential) -> str | None:
    """The token that fetches bytes the caller's own credentials were allowed: theirs, else the
    operator's (its rate limits), else none."""
    return credential.token or upstream.operator_token
