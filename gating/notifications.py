"""Emails about access requests, through Django's email backend.

Mails about a request or a decision are written to the transactional outbox (core.outbox) in the
caller's transaction, as they read at that moment, and sent by a worker: a rolled-back decision
never mails anyone, and a mail server that is down or refuses delays the mail (the beat's relay
runs it again) instead of failing the request that was already committed. Digests are sent from
their beat task directly.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.utils import timezone

from accounts.models import Membership, Role, User
from core.outbox import outbox_send
from gating.models import AccessRequest, GatingConfig, NotifyMode, RepoReviewer
from registry.models import Repo


def reviewer_emails(repo: Repo) -> list[str]:
    """The owner (or the organisation's admins), delegated reviewers, or the override address."""
    config = GatingConfig.objects.filter(repo=repo).first()
    if config and config.notify_email:
        return [config.notify_email]
    users: list[User] = []
    if repo.owner_user is not None:
        users.append(repo.owner_user)
    else:
        admins = Membership.objects.filter(org_id=repo.owner_org_id, role=Role.ADMIN).select_related("user")
        users += [m.user for m in admins.order_by("created_at")[:5]]
    users += [r.user for r in RepoReviewer.objects.filter(repo=repo).select_related("user")]
    return sorted({user.email for user in users if user.email})


def send(subject: str, body: str, recipients: list[str]) -> None:
    if recipients:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)


# Outbox messages name the request, the kind of mail and the state it reports (ids only): the
# worker renders the mail when it sends it. `stamp` (when the state was reached) makes the
# Message-ID, the same at every send of this mail: the receiver's idempotency key when the outbox
# runs a message again after a worker died between sending and recording it.
NEW_REQUEST, DECISION = "request", "decision"


def notify_new_request(request: AccessRequest) -> None:
    config = GatingConfig.objects.filter(repo=request.repo).first()
    if config and config.notify_mode == NotifyMode.DAILY:
        return  # the daily digest task reports it
    _outbox(NEW_REQUEST, request, request.created_at)


def notify_decision(request: AccessRequest) -> None:
    _outbox(DECISION, request, request.decided_at or timezone.now())


def _outbox(kind: str, request: AccessRequest, stamp) -> None:
    status = request.status
    outbox_send("gating.tasks.access_mail_send_task", kind, request.pk, status, stamp.strftime("%Y%m%d%H%M%S%f"))


def access_mail_send(*, kind: str, request_pk: int, status: str, stamp: str) -> int:
    """Render and send one outbox message's mail; how many were sent (0: nobody to tell, or the
    request is gone)."""
    request = AccessRequest.objects.select_related("repo", "user").filter(pk=request_pk).first()
    if request is None:
        return 0
    repo_id = request.repo.repo_id
    if kind == NEW_REQUEST:
        answers = "\n".join(f"  {label}: {value}" for label, value in request.fields.items()) or "  (no form fields)"
        subject = f"[Gatehouse] {request.user.username} requests access to {repo_id}"
        body = (
            f"{request.user.username} asked for access to {repo_id}.\n\nAnswers:\n{answers}\n\n"
            f"Review pending requests at {request.repo.web_path}/access-requests\n"
        )
        recipients = reviewer_emails(request.repo)
    else:
        subject = f"[Gatehouse] Access to {repo_id}: {status}"
        if status == "accepted":
            until = f" until {request.expires_at:%Y-%m-%d %H:%M} UTC" if request.expires_at else ""
            body = f"Your request to access {repo_id} has been accepted{until}. You can now download its files."
        elif status == "rejected":
            reason = f"\n\nReason: {request.rejection_reason}" if request.rejection_reason else ""
            body = f"Your request to access {repo_id} has been rejected by the repo's authors.{reason}"
        else:
            body = f"Your access to {repo_id} is pending review again."
        recipients = [request.user.email] if request.user.email else []
    if not recipients:
        return 0
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    headers = {"Message-ID": f"<gatehouse.access-{kind}.{request_pk}.{status}.{stamp}@{domain}>"}
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, headers=headers)
    return message.send(fail_silently=False)


def send_digest(repo: Repo, requests: list[AccessRequest]) -> None:
    lines = "\n".join(f"- {r.user.username} ({r.created_at:%Y-%m-%d %H:%M} UTC)" for r in requests)
    send(
        f"[Gatehouse] {len(requests)} new access request(s) for {repo.repo_id}",
        f"New requests since the last digest:\n{lines}\n\nReview them at {repo.web_path}/access-requests\n",
        reviewer_emails(repo),
    )
