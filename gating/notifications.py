"""Emails about access requests, built from audit events: reviewers hear about new requests
(at once or in a daily digest, per repo), requesters hear about every decision."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import User
from gating import selectors
from gating.models import AccessRequest, AuditEvent, NotifyMode, RequestStatus
from registry.models import GatedMode, Repo

# Event -> what the requester is told.
DECISION_SUBJECTS = {
    "access.accepted": "Your request to access {repo} was accepted",
    "access.granted": "You have been given access to {repo}",
    "access.rejected": "Your request to access {repo} was rejected",
    "access.cancelled": "Your access to {repo} is back under review",
    "access.reset": "Your access to {repo} was reset: you may ask again",
    "access.expired": "Your access to {repo} has expired",
}


def _links(repo: Repo) -> dict:
    base = settings.GATEHOUSE_SITE_URL.rstrip("/")
    return {
        "repo_url": f"{base}{repo.web_path}",
        "ask_url": f"{base}{repo.web_path}/ask-access",
        "queue_url": f"{base}{repo.web_path}/access-requests",
    }


def _send(subject: str, template: str, context: dict, recipients: list[str]) -> int:
    if not recipients:
        return 0
    body = render_to_string(template, context)
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def send_event_email(event: AuditEvent) -> int:
    """Send what `event` calls for; 0 when nobody is to be told (or the repo is gone)."""
    repo = Repo.objects.filter(pk=event.repo_id).select_related("owner_user").first()
    if repo is None:
        return 0
    context = {"event": event, "repo": repo, **_links(repo)}
    if event.action == "access.requested":
        config = selectors.gate_config(repo)
        if event.data.get("mode") != GatedMode.MANUAL or config.notify_mode != NotifyMode.REALTIME:
            return 0
        context["request"] = AccessRequest.objects.filter(pk=event.data.get("request_id")).first()
        subject = f"New access request to {repo.repo_id} from {event.subject_name}"
        return _send(subject, "gating/email/new_request.txt", context, selectors.reviewer_emails(repo))
    if event.action in DECISION_SUBJECTS:
        subject_user = User.objects.filter(pk=event.subject_id, is_active=True).first()
        if subject_user is None or not subject_user.email:
            return 0
        subject = DECISION_SUBJECTS[event.action].format(repo=repo.repo_id)
        return _send(subject, "gating/email/decision.txt", context, [subject_user.email])
    return 0


def send_digest(repo_id: int, since: datetime | None) -> int:
    repo = Repo.objects.filter(pk=repo_id).select_related("owner_user").first()
    if repo is None:
        return 0
    pending = AccessRequest.objects.filter(repo=repo, status=RequestStatus.PENDING).select_related("user")
    new = pending.filter(requested_at__gt=since) if since else pending
    if not new.exists():
        return 0
    context = {"repo": repo, "new": list(new.order_by("requested_at")[:50]), "pending": pending.count(), **_links(repo)}
    subject = f"{new.count()} new access request(s) to {repo.repo_id}"
    return _send(subject, "gating/email/digest.txt", context, selectors.reviewer_emails(repo))
