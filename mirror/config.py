"""The upstream hubs the operator configured (GATEHOUSE_UPSTREAMS), read once per process.

A namespace is either local or routed to exactly one upstream: `core.names.mirrored_from` answers
the same question for the apps below (accounts and the registry refuse local names there), and
`upstream_for_namespace` here is what the mirror's routing uses.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.names import RESERVED_NAMESPACES, is_valid_name


@dataclass(frozen=True)
class Upstream:
    name: str
    endpoint: str  # scheme://host[:port], no trailing slash
    namespaces: frozenset[str]  # folded
    legacy_ids: frozenset[str]  # folded namespace-less ids (`gpt2`) mirrored as they are
    operator_token: str | None
    licenses_allow: frozenset[str]
    licenses_deny: frozenset[str]
    repos_allow: tuple[str, ...]  # fnmatch patterns on the folded repo id
    repos_deny: tuple[str, ...]

    @property
    def origin(self) -> tuple[str, str]:
        parts = urlsplit(self.endpoint)
        return parts.scheme, parts.netloc

    def repo_rule_refusal(self, repo_id: str) -> str | None:
        """Why the operator's repo-id rules refuse `repo_id`, or None."""
        folded = repo_id.lower()
        if any(fnmatch.fnmatchcase(folded, pattern) for pattern in self.repos_deny):
            return f"{repo_id} is refused by this hub's mirror rules (repo id)."
        if self.repos_allow and not any(fnmatch.fnmatchcase(folded, pattern) for pattern in self.repos_allow):
            return f"{repo_id} is not among the repos this hub mirrors from {self.name!r}."
        return None

    def license_refusal(self, licenses: list[str]) -> str | None:
        """Why the operator's license rules refuse a repo under `licenses` (its card's), or None.
        A repo without a license passes an allow list only if the list names `unknown`."""
        found = {str(item).lower() for item in licenses} or {"unknown"}
        denied = sorted(found & self.licenses_deny)
        if denied:
            return f"The license {denied[0]!r} is not allowed on this hub (mirror rules)."
        if self.licenses_allow and not found <= self.licenses_allow:
            return f"The license {sorted(found - self.licenses_allow)[0]!r} is not allowed on this hub (mirror rules)."
        return None


def _patterns(raw: object, field: str, name: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ImproperlyConfigured(f"GATEHOUSE_UPSTREAMS[{name}].{field} must be a list of strings.")
    return [item.lower() for item in raw]


def _parse(raw: dict) -> Upstream:
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("GATEHOUSE_UPSTREAMS must be a JSON list of objects.")
    name = str(raw.get("name", ""))
    endpoint = str(raw.get("endpoint", "")).rstrip("/")
    parts = urlsplit(endpoint)
    if not name or parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
        raise ImproperlyConfigured(f"GATEHOUSE_UPSTREAMS[{name!r}] needs a name and an endpoint http(s)://host[:port].")
    namespaces = _patterns(raw.get("namespaces", []), "namespaces", name)
    for namespace in namespaces:
        if not is_valid_name(namespace) or namespace in RESERVED_NAMESPACES:
            raise ImproperlyConfigured(f"GATEHOUSE_UPSTREAMS[{name}]: {namespace!r} cannot be a mirrored namespace.")
    legacy_ids = _patterns(raw.get("legacy_ids", []), "legacy_ids", name)
    for legacy_id in legacy_ids:
        if not is_valid_name(legacy_id) or legacy_id in RESERVED_NAMESPACES:
            raise ImproperlyConfigured(f"GATEHOUSE_UPSTREAMS[{name}]: {legacy_id!r} cannot be a mirrored id.")
    token = raw.get("token") or (os.environ.get(raw["token_env"]) if raw.get("token_env") else None)
    return Upstream(
        name=name,
        endpoint=endpoint,
        namespaces=frozenset(namespaces),
        legacy_ids=frozenset(legacy_ids),
        operator_token=str(token) if token else None,
        licenses_allow=frozenset(_patterns(raw.get("licenses_allow", []), "licenses_allow", name)),
        licenses_deny=frozenset(_patterns(raw.get("licenses_deny", []), "licenses_deny", name)),
        repos_allow=tuple(_patterns(raw.get("repos_allow", []), "repos_allow", name)),
        repos_deny=tuple(_patterns(raw.get("repos_deny", []), "repos_deny", name)),
    )


@lru_cache(maxsize=4)
def _upstreams(frozen: str) -> dict[str, Upstream]:
    import json

    parsed = [_parse(raw) for raw in json.loads(frozen)]
    by_name = {upstream.name: upstream for upstream in parsed}
    owners: dict[str, str] = {}
    for upstream in parsed:
        # Legacy ids take the first path segment as namespaces do: one owner for each name.
        for namespace in upstream.namespaces | upstream.legacy_ids:
            if namespace in owners:
                raise ImproperlyConfigured(f"Namespace {namespace!r} is routed to two upstreams.")
            owners[namespace] = upstream.name
    return by_name


def upstreams() -> dict[str, Upstream]:
    import json

    return _upstreams(json.dumps(settings.GATEHOUSE_UPSTREAMS, sort_keys=True))


def upstream_for_namespace(namespace: str) -> Upstream | None:
    folded = namespace.lower()
    for upstream in upstreams().values():
        if folded in upstream.namespaces:
            return upstream
    return None


def upstream_for_legacy_id(repo_id: str) -> Upstream | None:
    folded = repo_id.lower()
    for upstream in upstreams().values():
        if folded in upstream.legacy_ids:
            return upstream
    return None


def upstream_named(name: str) -> Upstream | None:
    return upstreams().get(name)
