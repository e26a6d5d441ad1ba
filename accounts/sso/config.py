"""The operator's SSO settings, the provider's endpoints (discovered and cached) and the group map.

SSO is on when GATEHOUSE_OIDC_ISSUER and GATEHOUSE_OIDC_CLIENT_ID are set. Endpoints come from
the issuer's `/.well-known/openid-configuration`, fetched with a timeout and kept per process for
GATEHOUSE_OIDC_DISCOVERY_TTL seconds; any endpoint set explicitly wins over the document.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.models import Role

DISCOVERY_PATH = "/.well-known/openid-configuration"
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be fetched or is not usable."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    client_id: str
    client_secret: str
    scopes: str
    sign_algo: str
    timeout: float


def sso_enabled() -> bool:
    return bool(settings.GATEHOUSE_OIDC_ISSUER and settings.GATEHOUSE_OIDC_CLIENT_ID)


def password_login_enabled() -> bool:
    """False in SSO-only mode: no password sign-in, sign-up or password change on any path.
    SECURITY: tokens keep working (they are not passwords, and scripts rely on them)."""
    return not settings.GATEHOUSE_SSO_ONLY


def issuer() -> str:
    return settings.GATEHOUSE_OIDC_ISSUER.rstrip("/")


_lock = threading.Lock()
_discovered: dict[str, tuple[float, dict]] = {}


def _discovery(issuer_url: str) -> dict:
    """The provider's discovery document, cached per process; its `issuer` must be ours exactly
    (OpenID Connect Discovery 1.0, section 4.3: otherwise another party's document is in play)."""
    now = time.monotonic()
    with _lock:
        cached = _discovered.get(issuer_url)
    if cached and now - cached[0] < settings.GATEHOUSE_OIDC_DISCOVERY_TTL:
        return cached[1]
    url = issuer_url + DISCOVERY_PATH
    try:
        response = requests.get(url, timeout=settings.GATEHOUSE_OIDC_TIMEOUT, allow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"Could not read {url}: {exc}") from exc
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer_url:
        raise ProviderUnavailable(f"{url} names another issuer than {issuer_url}.")
    with _lock:
        _discovered[issuer_url] = (now, document)
    return document


def forget_discovery() -> None:
    with _lock:
        _discovered.clear()


def provider() -> Provider:
    """The provider's endpoints and our client's settings. Raises ProviderUnavailable when an
    endpoint is neither set nor discoverable."""
    if not sso_enabled():
        raise ProviderUnavailable("Single sign-on is not configured.")
    issuer_url = issuer()
    explicit = {name: getattr(settings, f"GATEHOUSE_OIDC_{name.upper()}") for name in _ENDPOINTS}
    document = {} if all(explicit.values()) else _discovery(issuer_url)
    endpoints = {name: explicit[name] or str(document.get(name) or "") for name in _ENDPOINTS}
    missing = [name for name, value in endpoints.items() if not value]
    if missing:
        raise ProviderUnavailable(f"The provider names no {', '.join(missing)}.")
    return Provider(
        issuer=issuer_url,
        client_id=settings.GATEHOUSE_OIDC_CLIENT_ID,
        client_secret=settings.GATEHOUSE_OIDC_CLIENT_SECRET,
        scopes=settings.GATEHOUSE_OIDC_SCOPES,
        sign_algo=settings.GATEHOUSE_OIDC_SIGN_ALGO,
        timeout=settings.GATEHOUSE_OIDC_TIMEOUT,
        **endpoints,
    )


GroupRoles = dict[str, tuple[tuple[str, str], ...]]


def parse_group_roles(raw: str) -> GroupRoles:
    """`{"group": "org:role"}` or `{"group": ["org:role", ...]}` -> {group: ((org, role), ...)}.
    Raises ImproperlyConfigured with the offending entry."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"GATEHOUSE_OIDC_GROUP_ROLES is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ImproperlyConfigured('GATEHOUSE_OIDC_GROUP_ROLES must be an object: {"group": "org:role"}.')
    mapping: GroupRoles = {}
    for group, targets in data.items():
        items = [targets] if isinstance(targets, str) else targets
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ImproperlyConfigured(f"GATEHOUSE_OIDC_GROUP_ROLES[{group!r}]: expected 'org:role' or a list of them.")
        pairs = []
        for item in items:
            org, colon, role = item.rpartition(":")
            if not colon or not org or role not in Role.values:
                raise ImproperlyConfigured(
                    f"GATEHOUSE_OIDC_GROUP_ROLES[{group!r}]: {item!r} is not 'org:role' with a role among "
                    f"{', '.join(Role.values)}."
                )
            pairs.append((org, role))
        mapping[str(group)] = tuple(pairs)
    return mapping


def group_roles() -> GroupRoles:
    """The operator's map, from GATEHOUSE_OIDC_GROUP_ROLES_FILE when set, else the variable."""
    path = settings.GATEHOUSE_OIDC_GROUP_ROLES_FILE
    if path:
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ImproperlyConfigured(f"GATEHOUSE_OIDC_GROUP_ROLES_FILE {path}: {exc}") from exc
        return parse_group_roles(raw)
    return parse_group_roles(settings.GATEHOUSE_OIDC_GROUP_ROLES)


def mapped_orgs(mapping: GroupRoles) -> set[str]:
    """Lower-cased names of the organisations the map governs (organisation names are case-insensitive)."""
    return {org.lower() for pairs in mapping.values() for org, _ in pairs}
