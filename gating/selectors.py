"""Reads for the gating views and tasks. They take a repo the policy has already returned and
decide nothing about access."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Membership, Role, User
from core.errors import BadRequest, NotFound
from gating.models import AccessRequest, AuditEvent, GateConfig, ReleasePlan, RepoReviewer, RequestStatus
from gating.policy import active_grant_q
from registry.models import Repo

ORG_ADMINS_NOTIFIED = 5
QUEUE_FILTERS = ("pending", "accepted", "rejected", "expired", "all")


def access_requests_for(repo: Repo, status: str, *, search: str = "") -> QuerySet[AccessRequest]:
    """One of the Hub's lists (pending, accepted, rejected) or, for the portal, expired or all.

    `accepted` lists only grants that work now; one past its expiry shows as expired."""
    queryset = AccessRequest.objects.filter(repo=repo).select_related("user", "decided_by")
    now = timezone.now()
    if status == RequestStatus.ACCEPTED:
        queryset = queryset.filter(active_grant_q(now))
    elif status == RequestStatus.EXPIRED:
        queryset = queryset.filter(
            Q(status=RequestStatus.EXPIRED) | Q(status=RequestStatus.ACCEPTED, expires_at__lte=now)
        )
    elif status != "all":
        queryset = queryset.filter(status=status)
    if search:
        queryset = queryset.filter(
            Q(user__username__icontains=search) | Q(user__email__icontains=search) | Q(user__fullname__icontains=search)
        )
    return queryset.order_by("requested_at", "pk")


def find_access_request(repo: Repo, *, username: str | None = None, request_id: str | None = None) -> AccessRequest:
    """The request named by user or by id, as the Hub's handle route takes it; 404 otherwise."""
    queryset = AccessRequest.objects.filter(repo=repo).select_related("user")
    if username is not None:
        request = queryset.filter(user__username__iexact=username).first()
        if request is None:
            raise NotFound(f"No access request from user {username!r}.")
        return request
    try:
        pk = int(str(request_id))
    except ValueError as exc:
        raise BadRequest("'requestId' must be a request id.") from exc
    request = queryset.filter(pk=pk).first()
    if request is None:
        raise NotFound(f"Access request {request_id!r} not found.")
    return request


def own_access_request(repo: Repo, user: User | None) -> AccessRequest | None:
    if user is None:
        return None
    return AccessRequest.objects.filter(repo=repo, user=user).first()


@dataclass(frozen=True)
class AccessState:
    """What the ask-access page and the repo sidebar tell a user about their own access."""

    state: str  # "anonymous", "none", "pending", "accepted", "rejected", "expired", "reset"
    request: AccessRequest | None

    @property
    def may_ask(self) -> bool:
        return self.state in ("none", "expired", "reset")


def access_state(repo: Repo, user: User | None) -> AccessState:
    if user is None:
        return AccessState("anonymous", None)
    request = own_access_request(repo, user)
    if request is None:
        return AccessState("none", None)
    status = request.status
    if status == RequestStatus.ACCEPTED and request.expires_at is not None and request.expires_at <= timezone.now():
        status = RequestStatus.EXPIRED
    return AccessState(status, request)


def pending_count(repo: Repo) -> int:
    return AccessRequest.objects.filter(repo=repo, status=RequestStatus.PENDING).count()


def reviewers_of(repo: Repo) -> QuerySet[RepoReviewer]:
    return RepoReviewer.objects.filter(repo=repo).select_related("user").order_by("user__username")


def gate_config(repo: Repo) -> GateConfig:
    return GateConfig.objects.filter(repo=repo).first() or GateConfig(repo=repo)


def reviewer_emails(repo: Repo) -> list[str]:
    """Who hears about new requests: the notification address if set; otherwise the owner (or the
    first five admins of the owning org) plus delegated reviewers."""
    config = gate_config(repo)
    if config.notify_email:
        return [config.notify_email]
    if repo.owner_user_id is not None:
        users = [repo.owner_user]
    else:
        admins = Membership.objects.filter(org_id=repo.owner_org_id, role=Role.ADMIN).order_by("created_at", "pk")
        users = [membership.user for membership in admins.select_related("user")[:ORG_ADMINS_NOTIFIED]]
    users += [reviewer.user for reviewer in reviewers_of(repo)]
    return list(dict.fromkeys(user.email for user in users if user.email and user.is_active))


def release_plan_of(repo: Repo) -> ReleasePlan | None:
    return ReleasePlan.objects.filter(repo=repo).prefetch_related("stages").first()


def audit_events_for(repo: Repo) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(repo=repo).order_by("-created_at", "-pk")
