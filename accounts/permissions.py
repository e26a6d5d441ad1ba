"""Token permissions, with the Hub's names (huggingface.co/settings/tokens, `whoami-v2`).

Every way of authenticating is described by the same vocabulary, so the policy asks one question
("does this caller hold `permission` on this entity?") whatever the token:

- a browser session and a classic `write` token hold every permission everywhere;
- a classic `read` token holds the read permissions everywhere (never a write: issue 2);
- a fine-grained token holds what it names: per entity (`scoped`: a repo, an organisation, or its
  owner's own namespace) plus `global` permissions that apply everywhere, and `canReadGatedRepos`
  (read the content of public gated repos the user was granted, outside its scopes).

Entities are stored by primary key (the Hub stores its `_id`), so renaming or moving a repo
keeps the token's scope on it; a deleted repo's key is never reused by PostgreSQL. What a
permission lets a caller do is decided in `gating.policy`; the route table is in the README.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import BadRequest

REPO_CONTENT_READ = "repo.content.read"
REPO_ACCESS_READ = "repo.access.read"
REPO_WRITE = "repo.write"
DISCUSSION_WRITE = "discussion.write"
COLLECTION_READ = "collection.read"
COLLECTION_WRITE = "collection.write"
USER_WEBHOOKS_READ = "user.webhooks.read"
USER_WEBHOOKS_WRITE = "user.webhooks.write"
INFERENCE_SERVERLESS_WRITE = "inference.serverless.write"

USER, ORG, REPO = "user", "org", "repo"

_REPO_LEVEL = (REPO_CONTENT_READ, REPO_ACCESS_READ, REPO_WRITE, DISCUSSION_WRITE)
# What reaches a repo through a scope on it or on its owner: a token holding only collection,
# webhook or inference permissions on a namespace does not reach that namespace's repos.
REPO_REACHING: frozenset[str] = frozenset(_REPO_LEVEL)
# What each kind of entity may carry. The user entity is always the token's own user.
PERMISSIONS_BY_ENTITY: dict[str, tuple[str, ...]] = {
    REPO: _REPO_LEVEL,
    ORG: (*_REPO_LEVEL, COLLECTION_READ, COLLECTION_WRITE),
    USER: (
        *_REPO_LEVEL,
        COLLECTION_READ,
        COLLECTION_WRITE,
        USER_WEBHOOKS_READ,
        USER_WEBHOOKS_WRITE,
        INFERENCE_SERVERLESS_WRITE,
    ),
}
# Global permissions apply on every entity the user can reach. As on the Hub, only taking part in
# discussions (and pull requests) can be global: content and writes are always scoped.
GLOBAL_PERMISSIONS: tuple[str, ...] = (DISCUSSION_WRITE,)

ALL: frozenset[str] = frozenset(p for perms in PERMISSIONS_BY_ENTITY.values() for p in perms)
# A classic read token: read everything its owner can read, write nothing (issue 2's rule), and
# run inference (previews), as the Hub's read tokens do. Reading access requests stays with write
# tokens, as before fine-grained tokens existed.
CLASSIC_READ: frozenset[str] = frozenset(
    {REPO_CONTENT_READ, COLLECTION_READ, USER_WEBHOOKS_READ, INFERENCE_SERVERLESS_WRITE}
)
# Implied at creation, as the Hub's token form ticks them: writing a repo means reading it, and
# each write of a resource means its read.
_IMPLIED = {
    REPO_WRITE: (REPO_CONTENT_READ,),
    COLLECTION_WRITE: (COLLECTION_READ,),
    USER_WEBHOOKS_WRITE: (USER_WEBHOOKS_READ,),
}


@dataclass(frozen=True)
class Scope:
    kind: str  # USER, ORG or REPO
    pk: int
    permissions: frozenset[str]


@dataclass(frozen=True)
class FineGrained:
    """A fine-grained token's permissions, as stored in `AccessToken.fine_grained`."""

    scoped: tuple[Scope, ...]
    global_permissions: frozenset[str]
    can_read_gated_repos: bool

    @classmethod
    def load(cls, data: dict) -> FineGrained:
        """From the stored JSON (already validated by `normalise` when the token was made)."""
        scoped = tuple(
            Scope(str(item["type"]), int(item["id"]), frozenset(item["permissions"])) for item in data.get("scoped", ())
        )
        return cls(scoped, frozenset(data.get("global", ())), bool(data.get("canReadGatedRepos", False)))

    def scoped_on(self, entities: Iterable[tuple[str, int | None]]) -> frozenset[str]:
        """The union of the scoped permissions on any of `entities` ((kind, pk) pairs)."""
        wanted = {(kind, pk) for kind, pk in entities if pk is not None}
        found: set[str] = set()
        for scope in self.scoped:
            if (scope.kind, scope.pk) in wanted:
                found |= scope.permissions
        return frozenset(found)


def with_implied(permissions: Iterable[str]) -> frozenset[str]:
    out = set(permissions)
    for permission in list(out):
        out.update(_IMPLIED.get(permission, ()))
    return frozenset(out)


def normalise(
    *, scoped: Iterable[tuple[str, int, Iterable[str]]], global_permissions: Iterable[str], gated: bool
) -> dict:
    """The JSON stored for a fine-grained token; BadRequest names the first unknown permission.
    Scopes on the same entity are merged; implied reads are added; empty scopes are dropped."""
    merged: dict[tuple[str, int], set[str]] = {}
    for kind, pk, permissions in scoped:
        allowed = PERMISSIONS_BY_ENTITY.get(kind)
        if allowed is None:
            raise BadRequest(f"Unknown entity type {kind!r}; expected one of user, org, repo.")
        for permission in permissions:
            if permission not in allowed:
                raise BadRequest(f"The permission {permission!r} cannot be given on a {kind}.")
        merged.setdefault((kind, pk), set()).update(with_implied(permissions))
    global_set = set(global_permissions)
    for permission in global_set:
        if permission not in GLOBAL_PERMISSIONS:
            raise BadRequest(f"The permission {permission!r} cannot be global; give it on a repo or a namespace.")
    if not any(merged.values()) and not global_set and not gated:
        raise BadRequest("A fine-grained token needs at least one permission.")
    return {
        "scoped": [
            {"type": kind, "id": pk, "permissions": sorted(perms)} for (kind, pk), perms in merged.items() if perms
        ],
        "global": sorted(global_set),
        "canReadGatedRepos": bool(gated),
    }
