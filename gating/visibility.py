"""Which repos a caller can see, and the one lookup of a repo by name that every repo-scoped
request makes (compiled once per process; anonymous download lookups cached until the repo
changes: core.lookup_cache). `gating.policy` decides with what it finds; import from there."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db.models import Case, CharField, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Concat

from accounts import permissions
from accounts.models import Membership
from core import lookup_cache
from core.names import fold
from core.prepared import PreparedQuery
from gating.access_types import Principal, RepoAccess, token_reaches
from gating.models import ReleasePlan
from licenses.models import RepoLicenseSettings
from registry.models import Ref, Repo, RepoRedirect, with_folded_id
from registry.selectors import RevisionHint


def visible_q(principal: Principal) -> Q:
    """The one visibility expression, used for single repos and for listings alike.
    SECURITY: through a fine-grained token, a private repo is visible only when one of the
    token's scopes names it or its namespace (`find_visible` applies the same rule to the row)."""
    visible = _visible_q(None if principal.user is None else principal.user.pk)
    scope = token_scope_q(principal)
    return visible if scope is None else visible & (Q(private=False) | scope)


def token_scope_q(principal: Principal, permission: str | None = None) -> Q | None:
    """The repos a fine-grained token's scopes name (with `permission`, only those where it holds
    that permission); None for every other caller (no restriction by token)."""
    fine = principal.fine_grained
    if fine is None or principal.user is None:
        return None
    repos, orgs, own = [], [], False
    for scope in fine.scoped:
        if not scope.permissions & permissions.REPO_REACHING:
            continue  # collections, webhooks, previews: they reach no repo (as `token_reaches`)
        if permission is not None and permission not in scope.permissions:
            continue
        if scope.kind == permissions.REPO:
            repos.append(scope.pk)
        elif scope.kind == permissions.ORG:
            orgs.append(scope.pk)
        elif scope.kind == permissions.USER and scope.pk == principal.user.pk:
            own = True
    q = Q(pk__in=repos) | Q(owner_org_id__in=orgs)
    return q | Q(owner_user_id=principal.user.pk) if own else q


def namespace_scope_q(principal: Principal, permission: str) -> Q | None:
    """For things a namespace owns (collections): those whose owner a fine-grained token names
    with `permission`; None for every other caller (no restriction by token)."""
    fine = principal.fine_grained
    if fine is None or principal.user is None:
        return None
    orgs = [scope.pk for scope in fine.scoped if scope.kind == permissions.ORG and permission in scope.permissions]
    q = Q(owner_org_id__in=orgs)
    own = any(
        scope.kind == permissions.USER and scope.pk == principal.user.pk and permission in scope.permissions
        for scope in fine.scoped
    )
    return q | Q(owner_user_id=principal.user.pk) if own else q


def _visible_q(user_id: int | None) -> Q:
    # SECURITY: a deleted repo is missing for everyone, its owner included, until it is restored
    # through policy.resolve_deleted_repo; every finder below is built from this expression.
    alive = Q(deleted_at__isnull=True)
    if user_id is None:
        return alive & Q(private=False)
    member_orgs = Membership.objects.filter(user_id=user_id).values("org_id")
    return alive & (Q(private=False) | Q(owner_user_id=user_id) | Q(owner_org_id__in=member_orgs))


def repos_visible_to(principal: Principal) -> QuerySet[Repo]:
    return Repo.objects.filter(visible_q(principal))


# `_find_visible` runs on every repo-scoped request (every HEAD before a download), so its SQL is
# compiled once per process (core.prepared) from the same `_visible_q` as listings. It stays one
# narrow query: the decision needs the owner ids on the row, not joined owner rows, and
# (repo_type, lower(namespace), lower(name)) is unique, so no ORDER BY. Ids are compared
# case-insensitively, as on the Hub: the finders take the folded id (core.names.fold) and filter on
# lower() of the columns, which the unique expression index of registry.Repo serves. Two facts ride along, so that the
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


def _find_by_id(visible: Q, repo_type: str, folded_namespace: str, folded_name: str) -> QuerySet[Repo]:
    return with_folded_id(
        Repo.objects.filter(visible), repo_type=repo_type, folded_namespace=folded_namespace, folded_name=folded_name
    )


_NOT_FOR_DOWNLOADS = ("card_data", "base_models")
_FIND_PUBLIC_AT = PreparedQuery(
    lambda repo_type, namespace, name, names: _with_best_ref(
        _with_download_facts(_find_by_id(_visible_q(None), repo_type, namespace, name)),
        names,
    ).defer(*_NOT_FOR_DOWNLOADS)[:1]
)
_FIND_FOR_USER_AT = PreparedQuery(
    lambda user_id, repo_type, namespace, name, names: _with_best_ref(
        _with_download_facts(_find_by_id(_visible_q(user_id), repo_type, namespace, name)),
        names,
    ).defer(*_NOT_FOR_DOWNLOADS)[:1]
)
_FIND_PUBLIC = PreparedQuery(
    lambda repo_type, namespace, name: _with_download_facts(_find_by_id(_visible_q(None), repo_type, namespace, name))[
        :1
    ]
)
_FIND_FOR_USER = PreparedQuery(
    lambda user_id, repo_type, namespace, name: _with_download_facts(
        _find_by_id(_visible_q(user_id), repo_type, namespace, name)
    )[:1]
)


def find_visible(
    principal: Principal, repo_type: str, namespace: str, name: str, candidates: list[str] | None = None
) -> RepoAccess | None:
    namespace, name = fold(namespace), fold(name)
    if not candidates:
        return _through_token(principal, _find_visible_uncached(principal, repo_type, namespace, name, candidates))
    # Download lookups are kept per process until the repo changes (core.lookup_cache), keyed on
    # the folded id (every casing of an id is the same repo). A signed-in caller's also until
    # anything of theirs changes (their org memberships decide what they see). Misses are not
    # kept: a repo created later must be found.
    user_id = None if principal.user is None else principal.user.pk
    key = ("find", user_id, repo_type, namespace, name, tuple(candidates))
    user_scopes = () if user_id is None else (lookup_cache.user_scope(user_id),)
    found = lookup_cache.remember(
        key,
        lambda found: (found.repo.pk, *user_scopes),
        lambda: _find_visible_uncached(principal, repo_type, namespace, name, candidates),
        keep_none=False,
    )
    if found is not None and found.principal is not principal:
        found = dataclasses.replace(found, principal=principal)  # the cached one is another request's
    return _through_token(principal, found)


def _through_token(principal: Principal, found: RepoAccess | None) -> RepoAccess | None:
    """SECURITY: `visible_q`'s token rule, on the row found by the user's visibility."""
    if found is None or not found.repo.private or principal.fine_grained is None:
        return found
    return found if token_reaches(principal, found.repo) else None


def _find_visible_uncached(
    principal: Principal, repo_type: str, namespace: str, name: str, candidates: list[str] | None
) -> RepoAccess | None:
    key: dict[str, str | int] = {"repo_type": repo_type, "namespace": namespace, "name": name}
    if principal.user is not None:
        key["user_id"] = principal.user.pk
    hinted = bool(candidates) and len(candidates or ()) <= MAX_HINTED_CANDIDATES
    if not hinted:
        found = (_FIND_PUBLIC if principal.user is None else _FIND_FOR_USER)(**key)
    else:
        found = (_FIND_PUBLIC_AT if principal.user is None else _FIND_FOR_USER_AT)(**key, names=candidates)
    if not found:
        return None
    repo = found[0]
    # The annotations of _with_download_facts and _with_best_ref, moved into typed fields: popped,
    # so that nothing reads them back from the Repo instance.
    facts: dict[str, Any] = repo.__dict__
    best = facts.pop("hint_ref", None) or ""
    hint = None
    if hinted:
        hint = RevisionHint(tuple(candidates or ()), best[40:] or None, best[:40] or None)
    return RepoAccess(
        principal,
        repo,
        revision_hint=hint,
        has_release_plan=facts.pop("has_release_plan", None),
        acknowledgment_opt_in=facts.pop("acknowledgment_opt_in", None),
    )


def moved_target(principal: Principal, repo_type: str, namespace: str, name: str) -> Repo | None:
    redirects = RepoRedirect.objects.all()
    redirect = with_folded_id(
        redirects, repo_type=repo_type, folded_namespace=fold(namespace), folded_name=fold(name)
    ).first()
    if redirect is None:
        return None
    return Repo.objects.filter(visible_q(principal), pk=redirect.repo_id).first()
