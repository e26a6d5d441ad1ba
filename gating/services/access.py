"""Access requests: asking, deciding, granting, expiring. Each service is one transaction and
writes its audit events in it; emails are scheduled for after the commit.

The caller has already passed the policy (`Action.VIEW` to ask, `Action.REVIEW` to decide).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from core.timeutil import isoformat_z
from gating.gateform import gate_form, validate_answers
from gating.models import AccessRequest, RequestStatus
from gating.services.audit import audit_record, notify_after_commit
from registry.models import GatedMode, Repo

MAX_REASON = 200
EXPIRY_BATCH = 500

# Decision -> statuses it may be taken from. Cancelling ("pending") a pending request is a 404,
# as on the Hub; every other refused move is a 400.
ALLOWED_FROM = {
    RequestStatus.ACCEPTED: {
        RequestStatus.PENDING,
        RequestStatus.ACCEPTED,
        RequestStatus.REJECTED,
        RequestStatus.EXPIRED,
        RequestStatus.RESET,
    },
    RequestStatus.REJECTED: {RequestStatus.PENDING, RequestStatus.ACCEPTED, RequestStatus.EXPIRED, RequestStatus.RESET},
    RequestStatus.PENDING: {RequestStatus.ACCEPTED, RequestStatus.REJECTED},
    RequestStatus.RESET: {RequestStatus.PENDING, RequestStatus.ACCEPTED, RequestStatus.REJECTED, RequestStatus.EXPIRED},
}
DECISION_EVENTS = {
    RequestStatus.ACCEPTED: "access.accepted",
    RequestStatus.REJECTED: "access.rejected",
    RequestStatus.PENDING: "access.cancelled",
    RequestStatus.RESET: "access.reset",
}


def require_gated(repo: Repo) -> None:
    if not repo.gated:
        raise BadRequest(f"{repo.repo_id} is not a gated repo: there are no access requests to make or review.")


def _is_active(request: AccessRequest, now: datetime) -> bool:
    return request.status == RequestStatus.ACCEPTED and (request.expires_at is None or request.expires_at > now)


def _reset_decision(request: AccessRequest, *, status: str, now: datetime) -> None:
    request.status = status
    request.decided_at = now if status == RequestStatus.ACCEPTED else None
    request.decided_by = None
    request.rejection_reason = ""
    request.expires_at = None


def access_request_submit(*, repo: Repo, user: User, answers) -> tuple[AccessRequest, bool]:
    """The user's request, from the browser form or the JSON API: (request, created).

    Asking again while pending or approved changes nothing; a rejected user may not ask again
    until a reviewer resets them; an expired or reset user starts a fresh request. `auto` repos
    approve at once.
    """
    require_gated(repo)
    cleaned = validate_answers(gate_form(repo.card_data, kind=repo.get_repo_type_display().lower()), answers)
    now = timezone.now()
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update().filter(repo=repo, user=user).first()
        if request is not None and request.status == RequestStatus.REJECTED:
            reason = f" Reason: {request.rejection_reason}" if request.rejection_reason else ""
            raise Forbidden(f"Your request to access this repo has been rejected by the repo's authors.{reason}")
        if request is not None and (request.status == RequestStatus.PENDING or _is_active(request, now)):
            return request, False
        if request is None:
            request = AccessRequest(repo=repo, user=user)
        auto = repo.gated == GatedMode.AUTO
        _reset_decision(request, status=RequestStatus.ACCEPTED if auto else RequestStatus.PENDING, now=now)
        request.fields = cleaned
        request.requested_at = now
        request.granted = False
        try:
            with transaction.atomic():
                request.save()
        except IntegrityError as exc:
            raise Conflict("An access request for this user is being recorded already.") from exc
        data = {"request_id": request.pk, "fields": cleaned, "mode": repo.gated}
        notify_after_commit(audit_record(action="access.requested", repo=repo, actor=user, subject=user, data=data))
        if auto:
            event = audit_record(
                action="access.accepted",
                repo=repo,
                actor=None,
                subject=user,
                data={"request_id": request.pk, "auto": True},
            )
            notify_after_commit(event)
    return request, True


def _validate_decision(status: str, reason: str, expires_at: datetime | None, now: datetime) -> None:
    if status not in ALLOWED_FROM:
        raise BadRequest("'status' must be one of 'accepted', 'rejected', 'pending' or 'reset'.")
    if reason and status != RequestStatus.REJECTED:
        raise BadRequest("A rejection reason can only be given when rejecting a request.")
    if len(reason) > MAX_REASON:
        raise BadRequest(f"The rejection reason is too long ({len(reason)} characters; at most {MAX_REASON}).")
    if expires_at is not None:
        if status != RequestStatus.ACCEPTED:
            raise BadRequest("An expiry can only be given when accepting a request.")
        if expires_at <= now:
            raise BadRequest("The expiry must be in the future.")


def access_requests_decide(
    *,
    repo: Repo,
    actor: User,
    request_ids: Sequence[int],
    status: str,
    reason: str = "",
    expires_at: datetime | None = None,
) -> list[AccessRequest]:
    """Accept, reject, cancel (back to pending) or reset requests: all of them, or none."""
    require_gated(repo)
    now = timezone.now()
    reason = (reason or "").strip()
    _validate_decision(status, reason, expires_at, now)
    with transaction.atomic():
        requests = list(
            AccessRequest.objects.select_for_update()
            .filter(repo=repo, pk__in=list(request_ids))
            .select_related("user")
            .order_by("pk")
        )
        if len(requests) != len(set(request_ids)):
            raise NotFound("Access request not found.")
        for request in requests:
            if request.status not in ALLOWED_FROM[status]:
                if status == RequestStatus.PENDING and request.status == RequestStatus.PENDING:
                    raise NotFound(f"The request from {request.user.username} is already pending.")
                raise BadRequest(
                    f"The request from {request.user.username} is {request.status}; it cannot be {status}."
                )
        for request in requests:
            previous = request.status
            _reset_decision(request, status=status, now=now)
            if status in (RequestStatus.ACCEPTED, RequestStatus.REJECTED):
                request.decided_at, request.decided_by = now, actor
            request.rejection_reason = reason if status == RequestStatus.REJECTED else ""
            request.expires_at = expires_at if status == RequestStatus.ACCEPTED else None
            request.save()
            data = {"request_id": request.pk, "from": previous, "expires_at": isoformat_z(expires_at)}
            event = audit_record(
                action=DECISION_EVENTS[status], repo=repo, actor=actor, subject=request.user, reason=reason, data=data
            )
            notify_after_commit(event)
    return requests


def access_grant(*, repo: Repo, actor: User, user: User, expires_at: datetime | None = None) -> AccessRequest:
    """Give `user` access without (or ahead of) a request of theirs."""
    require_gated(repo)
    now = timezone.now()
    _validate_decision(RequestStatus.ACCEPTED, "", expires_at, now)
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update().filter(repo=repo, user=user).first()
        if request is not None and _is_active(request, now):
            raise BadRequest(f"{user.username} already has access to {repo.repo_id}.")
        if request is None:
            request = AccessRequest(repo=repo, user=user, requested_at=now, granted=True, fields={})
        previous = request.status or None
        request.status = RequestStatus.ACCEPTED
        request.decided_at, request.decided_by = now, actor
        request.rejection_reason = ""
        request.expires_at = expires_at
        try:
            with transaction.atomic():
                request.save()
        except IntegrityError as exc:
            raise Conflict("An access request for this user is being recorded already.") from exc
        data = {"request_id": request.pk, "from": previous, "expires_at": isoformat_z(expires_at)}
        notify_after_commit(audit_record(action="access.granted", repo=repo, actor=actor, subject=user, data=data))
    return request


def access_requests_expire(*, now: datetime | None = None) -> int:
    """Mark accepted requests past their expiry as expired, once each (the policy already refuses
    them from the moment they expire; this records it and tells the user)."""
    now = now or timezone.now()
    due = AccessRequest.objects.filter(status=RequestStatus.ACCEPTED, expires_at__lte=now)
    count = 0
    for pk in list(due.values_list("pk", flat=True)[:EXPIRY_BATCH]):
        with transaction.atomic():
            request = (
                AccessRequest.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=pk, status=RequestStatus.ACCEPTED, expires_at__lte=now)
                .select_related("repo", "user")
                .first()
            )
            if request is None:
                continue
            request.status = RequestStatus.EXPIRED
            request.save(update_fields=["status"])
            data = {"request_id": pk, "expires_at": isoformat_z(request.expires_at)}
            event = audit_record(
                action="access.expired", repo=request.repo, actor=None, subject=request.user, data=data
            )
            notify_after_commit(event)
            count += 1
    return count
