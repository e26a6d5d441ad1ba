"""Access requests, grants, reviewers and gating settings. Each function is one transaction that
writes its audit event with the decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from core.timeutil import isoformat_z
from gating import notifications
from gating.access_form import form_for_repo, validate_answers
from gating.audit import audit_record
from gating.models import AccessRequest, GatingConfig, NotifyMode, RepoReviewer, RequestStatus
from gating.selectors import gating_config, require_gated
from registry.models import GatedMode, Repo

MAX_REASON = 200


@transaction.atomic
def access_request_create(*, repo: Repo, user: User, answers: dict, has_role: bool) -> AccessRequest:
    """Ask for access. Automatic gating grants at once; manual gating queues for review."""
    require_gated(repo)
    if has_role:
        raise BadRequest("You already have access to this repo as a member.")
    existing = AccessRequest.objects.select_for_update().filter(repo=repo, user=user).first()
    if existing is not None:
        _refuse_repeat(existing)
    cleaned = validate_answers(form_for_repo(repo), answers)
    request = existing or AccessRequest(repo=repo, user=user)
    request.fields = cleaned
    request.requested_by_user = True
    request.created_at = timezone.now()
    request.status = RequestStatus.PENDING
    request.decided_at = request.decided_by = request.expires_at = None
    request.rejection_reason = ""
    request.expiry_recorded = False
    request.save()
    audit_record(repo=repo, action="access_request.create", actor=user, subject=user, data={"fields": cleaned})
    if repo.gated == GatedMode.AUTO:
        days = gating_config(repo).auto_grant_days
        request.status = RequestStatus.ACCEPTED
        request.decided_at = timezone.now()
        request.expires_at = request.decided_at + timedelta(days=days) if days else None
        request.save()
        audit_record(
            repo=repo,
            action="access_request.accept",
            subject=user,
            reason="automatic approval",
            data={"expires_at": isoformat_z(request.expires_at)},
        )
        notifications.notify_decision(request)
    else:
        notifications.notify_new_request(request)
    return request


def _refuse_repeat(existing: AccessRequest) -> None:
    if existing.status == RequestStatus.REJECTED:
        reason = f" Reason: {existing.rejection_reason}" if existing.rejection_reason else ""
        raise Forbidden(f"Your request to access this repo has been rejected by the repo's authors.{reason}")
    if existing.status == RequestStatus.PENDING:
        raise Conflict("Your request is already pending review.")
    if not existing.is_expired():
        raise Conflict("You already have access to this repo.")


def _refuse_own(reviewer: User, user: User) -> None:
    """SECURITY: a delegated reviewer has no access of their own; deciding (or granting, or
    resetting) their own request would let them give it to themselves."""
    if reviewer.pk == user.pk:
        raise Forbidden("You cannot decide your own access request: another reviewer or an admin must.")


def _request_for_update(repo: Repo, *, user_name: str | None = None, request_id: str | None = None) -> AccessRequest:
    queryset = AccessRequest.objects.select_for_update().select_related("user").filter(repo=repo)
    if request_id:
        try:
            request = queryset.filter(pk=int(str(request_id), 16)).first()
        except ValueError:
            request = None
    elif user_name:
        request = queryset.filter(user__username=user_name).first()
    else:
        raise BadRequest("Name the request with 'user' or 'requestId'.")
    if request is None:
        raise NotFound("No such access request.")
    return request


@transaction.atomic
def access_request_decide(
    *,
    repo: Repo,
    reviewer: User,
    status: str | None,
    user_name: str | None = None,
    request_id: str | None = None,
    reason: str = "",
    expires_at: datetime | None = None,
) -> AccessRequest:
    """accepted, rejected, or pending (the Hub's "cancel": back to the queue)."""
    require_gated(repo)
    if status not in RequestStatus.values:
        raise BadRequest("'status' must be 'accepted', 'rejected' or 'pending'.")
    if len(reason or "") > MAX_REASON:
        raise BadRequest(f"The rejection reason is limited to {MAX_REASON} characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("An expiry must be in the future.")
    request = _request_for_update(repo, user_name=user_name, request_id=request_id)
    _refuse_own(reviewer, request.user)
    # As on the Hub: a request already in the list asked for is a 404 (an expired grant may be
    # accepted again, to renew it).
    if request.status == status and not (status == RequestStatus.ACCEPTED and request.is_expired()):
        raise NotFound(f"This access request is already in the {status} list.")
    request.status = status
    request.decided_at = timezone.now()
    request.decided_by = reviewer
    request.rejection_reason = (reason or "") if status == RequestStatus.REJECTED else ""
    request.expires_at = expires_at if status == RequestStatus.ACCEPTED else None
    request.expiry_recorded = False
    request.save()
    action = {"accepted": "accept", "rejected": "reject", "pending": "cancel"}[status]
    audit_record(
        repo=repo,
        action=f"access_request.{action}",
        actor=reviewer,
        subject=request.user,
        reason=reason or "",
        data={"expires_at": isoformat_z(request.expires_at)},
    )
    notifications.notify_decision(request)
    return request


@transaction.atomic
def access_grant(*, repo: Repo, reviewer: User, user: User, has_role: bool, expires_at=None) -> AccessRequest:
    """Give access to a user who never asked."""
    require_gated(repo)
    _refuse_own(reviewer, user)
    request = AccessRequest.objects.select_for_update().filter(repo=repo, user=user).first()
    if has_role or (request and request.status == RequestStatus.ACCEPTED and not request.is_expired()):
        raise BadRequest(f"{user.username} already has access to {repo.repo_id}.")
    request = request or AccessRequest(repo=repo, user=user, requested_by_user=False)
    request.status = RequestStatus.ACCEPTED
    request.decided_at = timezone.now()
    request.decided_by = reviewer
    request.expires_at = expires_at
    request.rejection_reason = ""
    request.expiry_recorded = False
    request.save()
    audit_record(
        repo=repo,
        action="access_grant.create",
        actor=reviewer,
        subject=user,
        data={"expires_at": isoformat_z(expires_at)},
    )
    notifications.notify_decision(request)
    return request


@transaction.atomic
def access_request_reset(*, repo: Repo, reviewer: User, user_name: str) -> None:
    """Forget a decision (typically a rejection) so the user may ask again."""
    request = _request_for_update(repo, user_name=user_name)
    _refuse_own(reviewer, request.user)
    audit_record(
        repo=repo,
        action="access_request.reset",
        actor=reviewer,
        subject=request.user,
        data={"previous_status": request.status},
    )
    request.delete()


@transaction.atomic
def access_grants_expire(*, now: datetime | None = None) -> int:
    """Record each grant that expired (policy already refuses it); returns how many."""
    now = now or timezone.now()
    due = (
        AccessRequest.objects.select_for_update(skip_locked=True)
        .select_related("repo", "user")
        .filter(status=RequestStatus.ACCEPTED, expires_at__lte=now, expiry_recorded=False)
    )
    count = 0
    for request in due:
        request.expiry_recorded = True
        request.save(update_fields=["expiry_recorded"])
        audit_record(
            repo=request.repo,
            action="access_grant.expire",
            subject=request.user,
            data={"expired_at": isoformat_z(request.expires_at)},
        )
        count += 1
    return count


@transaction.atomic
def reviewer_add(*, repo: Repo, actor: User, user: User) -> RepoReviewer:
    reviewer, created = RepoReviewer.objects.get_or_create(repo=repo, user=user, defaults={"added_by": actor})
    if created:
        audit_record(repo=repo, action="reviewer.add", actor=actor, subject=user)
    return reviewer


@transaction.atomic
def reviewer_remove(*, repo: Repo, actor: User, user: User) -> None:
    deleted, _ = RepoReviewer.objects.filter(repo=repo, user=user).delete()
    if deleted:
        audit_record(repo=repo, action="reviewer.remove", actor=actor, subject=user)


@transaction.atomic
def gating_config_update(
    *, repo: Repo, actor: User, notify_mode: str, notify_email: str = "", auto_grant_days: int = 0
) -> GatingConfig:
    if notify_mode not in NotifyMode.values:
        raise BadRequest("Notification mode must be 'immediate' or 'daily'.")
    if auto_grant_days < 0 or auto_grant_days > 3650:
        raise BadRequest("Automatic grants last between 0 (forever) and 3650 days.")
    config, _ = GatingConfig.objects.get_or_create(repo=repo)
    config.notify_mode, config.notify_email, config.auto_grant_days = notify_mode, notify_email, auto_grant_days
    config.save()
    audit_record(
        repo=repo,
        action="gating.settings_update",
        actor=actor,
        data={"notify_mode": notify_mode, "auto_grant_days": auto_grant_days},
    )
    return config


def access_request_digests_send(*, now: datetime | None = None) -> int:
    """Daily digests: each repo in daily mode gets at most one mail a day about new requests,
    even with overlapping beat ticks (each repo's settings row is claimed with skip_locked)."""
    now = now or timezone.now()
    config_ids = GatingConfig.objects.filter(notify_mode=NotifyMode.DAILY).values_list("pk", flat=True)
    return sum(_digest_send(config_id, now) for config_id in config_ids)


@transaction.atomic
def _digest_send(config_id: int, now: datetime) -> bool:
    config = (
        GatingConfig.objects.select_for_update(skip_locked=True).select_related("repo").filter(pk=config_id).first()
    )
    if config is None or (config.last_digest_at and now - config.last_digest_at < timedelta(days=1)):
        return False
    since = config.last_digest_at or now - timedelta(days=1)
    pending = list(
        AccessRequest.objects.filter(repo=config.repo, status=RequestStatus.PENDING, created_at__gt=since)
        .select_related("user")
        .order_by("created_at")
    )
    config.last_digest_at = now
    config.save(update_fields=["last_digest_at"])
    if pending:
        notifications.send_digest(config.repo, pending)
    return bool(pending)
