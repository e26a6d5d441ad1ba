"""Every route is either guarded by the repo-policy base classes or explicitly listed as public.

A new view that forgets the policy fails here rather than in production.
"""

from django.urls import URLPattern, URLResolver, get_resolver

from gating.repo_views import RepoAPIView, RepoView
from registry.views.lfs import SignedTransferView
from xet.cas import CasRepoView

# Routes that are not repo-scoped, each with the reason it may skip the repo policy.
PUBLIC_ROUTES = {
    "agent-harnesses": "implicit client call; returns an empty registry",
    "telemetry": "implicit client call; stores nothing",
    "whoami": "describes the caller only; requires a signed-in caller",
    "credentials-revoke": "revokes the token it is given, answers 202 whatever it was: no repo, no oracle",
    "schema": "OpenAPI schema of public routes",
    "healthz": "liveness probe; says nothing but ok",
    "readyz": "readiness probe; details only for operators or loopback callers (core.health.may_see_details)",
    "metrics": "Prometheus metrics; only a metrics token or an allowed address (core.metrics.may_scrape), no repo ids",
    "api:api-list": "listing filtered by gating.policy.repos_visible_to",
    "api:api-repo-create": "creates in a namespace; checks gating.policy.can_create_in",
    "deleted-repos:api-repos-deleted": "lists gating.policy.deleted_repos_restorable_by the caller",
    "deleted-repos:api-repo-restore": "resolves through gating.policy.resolve_deleted_repo (missing to others)",
    "deleted-repos:api-repo-purge": "resolves through gating.policy.resolve_deleted_repo (missing to others)",
    "operators:reports": "operators only (gating.policy.is_operator); a 404 page to everyone else",
    "operators:takedowns": "operators only (gating.policy.is_operator); a 404 page to everyone else",
    "operators:api-takedown": "resolves through gating.policy.resolve_repo_for_operator (missing to others)",
    "operators:api-takedown-lift": "resolves through gating.policy.resolve_repo_for_operator (missing to others)",
    "api:api-validate-yaml": "a pure function of the request body; touches no repo",
    "registry:home": "listing filtered by gating.policy.repos_visible_to",
    "registry:list": "listing filtered by gating.policy.repos_visible_to",
    "registry:new": "creates in a namespace; checks gating.policy.can_create_in",
    "registry:namespace": "profile page; repos filtered by gating.policy.repos_visible_to",
    "accounts:signup": "account pages act on the signed-in user only",
    "accounts:login": "account pages act on the signed-in user only",
    "accounts:logout": "account pages act on the signed-in user only",
    "accounts:sso_login": "starts an OpenID Connect sign-in; touches no repo",
    "accounts:sso_callback": "finishes an OpenID Connect sign-in (state, nonce, PKCE checked); touches no repo",
    "accounts:tokens": "account pages act on the signed-in user only",
    "accounts:org_new": "account pages act on the signed-in user only",
    "accounts:account_settings": "account pages act on the signed-in user only",
    "accounts:verify_email": "acts on the account a signed, expiring link names (accounts.mail)",
    "accounts:password_reset": "answers the same for every address; mails only the account's owner",
    "accounts:password_reset_done": "a static page",
    "accounts:password_reset_confirm": "acts on the account a reset token names (Django's token generator)",
    "accounts:password_reset_complete": "a static page",
    "gating:account_delete": "account pages act on the signed-in user only; their own repos only",
    "accounts:org_members": "org admins only (gating.policy.can_manage_org)",
    "accounts:org_settings": "org admins only (gating.policy.can_manage_org); a 404 page to everyone else",
    "accounts:invitation": "a signed invitation, accepted only by the invited email's signed-in user",
    "licenses-api:api-catalogue": "the license catalogue: public reference data, no repo",
    "licenses-api:api-catalogue-entry": "the license catalogue: public reference data, no repo",
    "licenses-api:api-mine": "the caller's own acknowledgments, filtered by gating.policy.repos_visible_to",
    "licenses:catalogue": "the license catalogue: public reference data, no repo",
    "licenses:catalogue-entry": "the license catalogue: public reference data, no repo",
    "licenses:mine": "the signed-in user's own acknowledgments, filtered by gating.policy.repos_visible_to",
    "community-api:api-user-likes": "a user's likes, filtered by gating.policy.repos_visible_to the caller",
    "community-api:api-collections": "filtered by community.collections.access (items by repos_visible_to)",
    "community-api:api-collection": "community.collections.access.resolve_collection (missing to others)",
    "community-api:api-collection-items": "resolve_collection(edit=True); added repos via gating.policy.resolve_repo",
    "community-api:api-collection-item": "resolve_collection(edit=True); only items of repos visible to the caller",
    "community:collections": "listing filtered by community.collections.access and gating.policy.repos_visible_to",
    "community:collections-of": "listing filtered by community.collections.access and gating.policy.repos_visible_to",
    "community:collection": "resolves through community.collections.access.resolve_collection (missing to others)",
    "xet-cas:fetch": "signed short-lived URL minted by a policy-checked reconstruction",
    "xet-cas:unknown": "answers a JSON 404 for every CAS route Gatehouse does not implement",
    "xet-cas:telemetry": "hf_xet telemetry; stores nothing",
    "webhooks-api:api-webhooks": "the caller's own webhooks; watched repos resolved through gating.policy.resolve_repo",
    "webhooks-api:api-webhook": "the caller's own webhook (another's is a 404); watched repos through resolve_repo",
    "webhooks-api:api-enable": "the caller's own webhook (another's is a 404)",
    "webhooks-api:api-disable": "the caller's own webhook (another's is a 404)",
    "webhooks:list": "the signed-in user's own webhooks",
    "mirror-api:api-upstreams": "the upstream hubs, and whether the caller stored a token for each (their own)",
    "mirror-api:api-upstream-token": "the caller's own upstream token (write token); never answered back",
    "webhooks:detail": "the signed-in user's own webhook (another's is a 404); skipped deliveries name no repo",
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{entry.namespace}:" if entry.namespace else ""
            yield from _walk(entry.url_patterns, prefix + namespace)
        elif isinstance(entry, URLPattern):
            yield prefix + (entry.name or str(entry.pattern)), entry.callback


def _view_class(callback):
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)


def test_every_route_is_guarded_or_allowlisted():
    unguarded = []
    for name, callback in _walk(get_resolver().url_patterns):
        if name in PUBLIC_ROUTES:
            continue
        cls = _view_class(callback)
        if cls is not None and issubclass(cls, RepoAPIView):
            assert cls.initial is RepoAPIView.initial, f"{name} overrides the policy gate in initial()"
            continue
        if cls is not None and issubclass(cls, RepoView):
            assert cls.dispatch is RepoView.dispatch, f"{name} overrides the policy gate in dispatch()"
            continue
        if cls is not None and issubclass(cls, CasRepoView):
            assert cls.dispatch is CasRepoView.dispatch, f"{name} overrides the Xet token's policy gate in dispatch()"
            continue
        if cls is not None and issubclass(cls, SignedTransferView):
            # A signed LFS transfer URL (minted after a WRITE check); the policy is checked again.
            assert cls.dispatch is SignedTransferView.dispatch, f"{name} overrides the signature check in dispatch()"
            assert cls._check_still_allowed is SignedTransferView._check_still_allowed, f"{name} skips the re-check"
            continue
        unguarded.append(name)
    assert unguarded == [], f"routes neither guarded by the repo policy nor allowlisted: {unguarded}"


def test_allowlist_has_no_stale_entries():
    names = {name for name, _ in _walk(get_resolver().url_patterns)}
    assert set(PUBLIC_ROUTES) <= names
