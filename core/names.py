"""Names of users, organisations and repos, validated as the Hub client validates repo ids.

Users and organisations share one namespace; a few names are reserved because they are route
prefixes (a user called `api` would shadow the whole API).
"""

from __future__ import annotations

import re

from django.conf import settings

from core.errors import BadRequest, Forbidden

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
RESERVED_NAMESPACES = frozenset(
    {
        "api",
        "collections",
        "datasets",
        "spaces",
        "kernels",
        "models",
        "static",
        "settings",
        "login",
        "logout",
        "signup",
        "sso",
        "new",
        "organizations",
        "licenses",
        "docs",
        "admin",
        "cas",
        "v1",
        "v2",
        "uploads",
        "lfs",
        "search",
        "previews",
        "notifications",
        "account",
        "verify-email",
        "password-reset",
        "me",
        "healthz",
        "readyz",
        "metrics",
    }
)


def is_valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name)) and "--" not in name and ".." not in name and not name.endswith(".git")


def validate_namespace_name(name: str) -> str:
    if not is_valid_name(name) or name.lower() in RESERVED_NAMESPACES:
        raise BadRequest(
            f"Invalid name {name[:100]!r}: use 1-96 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit; some names are reserved."
        )
    refuse_mirrored_namespace(name)
    return name


def mirrored_from(namespace: str) -> str | None:
    """The name of the upstream hub a namespace (or a namespace-less id such as `gpt2`, which
    takes the same first path segment) is mirrored from (GATEHOUSE_UPSTREAMS), or None for a local
    namespace. A namespace is one or the other, never both."""
    folded = namespace.lower()
    for upstream in settings.GATEHOUSE_UPSTREAMS:
        names = (*upstream.get("namespaces", ()), *upstream.get("legacy_ids", ()))
        if any(str(name).lower() == folded for name in names):
            return str(upstream.get("name", ""))
    return None


def refuse_mirrored_namespace(namespace: str) -> None:
    """SECURITY: no local account, organisation or repo may take a mirrored namespace: a local
    `google/x` would shadow the upstream's for everyone (the mirror's routing answers first)."""
    upstream = mirrored_from(namespace)
    if upstream is not None:
        raise Forbidden(
            f"The namespace {namespace[:100]!r} is mirrored from the upstream hub {upstream!r}: it is "
            "read-only here and cannot hold local accounts, organisations or repos.",
            code="MirroredNamespace",
        )


def validate_repo_name(name: str) -> str:
    if not is_valid_name(name):
        raise BadRequest(
            f"Invalid repo name {name[:100]!r}: use 1-96 letters, digits, '-', '_' or '.', with no "
            "'--' or '..', not ending in '.git'."
        )
    return name


def fold(name: str) -> str:
    """Ids are compared case-insensitively (as on the Hub). Valid names are ASCII (NAME_RE), so
    Python's lower() and the database's lower() agree on them."""
    return name.lower()


def is_namespaceless_id(repo_id: object) -> bool:
    """`gpt2`, `missing_repo_id`: a canonical-model style id with no namespace. Gatehouse has
    no such repos; the Hub answers them as missing (RepoNotFound), never as a bad request."""
    return isinstance(repo_id, str) and "/" not in repo_id.strip("/") and is_valid_name(repo_id.strip("/"))


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """'ns/name' -> ('ns', 'name'); anything else is a 400."""
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if len(parts) != 2 or not is_valid_name(parts[0]) or not is_valid_name(parts[1]):
        raise BadRequest(f"Invalid repo id {str(repo_id)[:200]!r}: expected 'namespace/name'.")
    return parts[0], parts[1]
