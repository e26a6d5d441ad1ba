"""Reads for the review queue and the audit trail (the repo comes from the policy)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import AccessToken, Organization, User
from core.errors import BadRequest
from core.timeutil import isoformat_z
from gating.access_types import Principal
from gating.models import AccessRequest, AuditEvent, GatingConfig
from gating.visibility import repos_visible_to
from registry.models import Repo


def require_gated(repo: Repo) -> None:
    if not repo.gated:
        raise BadRequest(f"{repo.repo_id} is not a gated repo.")


def gating_config(repo: Repo) -> GatingConfig:
    """The repo's notification and automatic-grant settings: its row, or the defaults (unsaved)
    while nobody changed them. A pure read: the settings page's GET writes nothing."""
    return GatingConfig.objects.filter(repo=repo).first() or GatingConfig(repo=repo)


def requests_for(repo: Repo, *, status: str | None = None, search: str = "") -> QuerySet[AccessRequest]:
    queryset = AccessRequest.objects.filter(repo=repo).select_related("user", "decided_by").order_by("-created_at")
    if status:
        queryset = queryset.filter(status=status)
    if search:
        queryset = queryset.filter(Q(user__username__icontains=search) | Q(user__email__icontains=search))
    return queryset


def request_item(request: AccessRequest) -> dict:
    """The Hub's access-request shape, plus Gatehouse's expiry and decision details."""
    user = request.user
    item = {
        "user": {"user": user.username, "fullname": user.fullname or user.username, "email": request.shared_email},
        "requestId": request.request_id,
        "status": request.status,
        "timestamp": isoformat_z(request.created_at),
        "fields": request.fields,
    }
    if request.decided_at:
        item["decidedAt"] = isoformat_z(request.decided_at)
    if request.expires_at:
        item["expiresAt"] = isoformat_z(request.expires_at)
        item["expired"] = request.is_expired()
    if request.rejection_reason:
        item["rejectionReason"] = request.rejection_reason
    return item


def audit_for(repo: Repo) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(repo_id=repo.pk)


def audit_item(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "time": isoformat_z(event.created_at),
        "action": event.action,
        "actor": event.actor_label or None,
        "subject": event.subject_label or None,
        "repo": event.repo_label,
        "reason": event.reason,
        "data": event.data,
    }


def fine_grained_description(token: AccessToken) -> dict:
    """A fine-grained token's permissions in the Hub's whoami-v2 shape: `scoped` entities as
    {_id, type, name} (repos typed model or dataset), `global`, `canReadGatedRepos`. A scope on
    something gone, or that its user may no longer see, is left out (it reaches nothing)."""
    fine = token.fine_grained_permissions
    if fine is None:
        return {}
    ids = {
        kind: [scope.pk for scope in fine.scoped if scope.kind == kind] for kind in permissions.PERMISSIONS_BY_ENTITY
    }
    visible = repos_visible_to(Principal(user=token.user))
    repos = {repo.pk: repo for repo in visible.filter(pk__in=ids[permissions.REPO])}
    orgs = dict(Organization.objects.filter(pk__in=ids[permissions.ORG]).values_list("pk", "name"))
    users = dict(User.objects.filter(pk__in=ids[permissions.USER], pk=token.user_id).values_list("pk", "username"))
    scoped = []
    for scope in fine.scoped:
        if scope.kind == permissions.REPO and scope.pk in repos:
            repo = repos[scope.pk]
            entity = {"_id": f"{repo.pk:024x}", "type": repo.repo_type, "name": repo.repo_id}
        elif scope.kind == permissions.ORG and scope.pk in orgs:
            entity = {"_id": f"{scope.pk:024x}", "type": "org", "name": orgs[scope.pk]}
        elif scope.kind == permissions.USER and scope.pk in users:
            entity = {"_id": f"{scope.pk:024x}", "type": "user", "name": users[scope.pk]}
        else:
            continue
        scoped.append({"entity": entity, "permissions": sorted(scope.permissions)})
    return {
        "canReadGatedRepos": fine.can_read_gated_repos,
        "global": sorted(fine.global_permissions),
        "scoped": scoped,
    }
