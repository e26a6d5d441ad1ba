"""Emails about access requests, through Django's email backend.

Mails about a request or a decision are written to the transactional outbox (core.outbox) in the
caller's transaction, as they read at that moment, and sent by a worker: a rolled-back decision
never mails anyone, and a mail server that is down or refuses delays the mail (the beat's relay
runs it again) instead of failing the request that was already committed. Digests are sent from
their beat task directly.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

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


def _after_commit(subject: str, body: str, recipients: list[str]) -> None:
    if recipients:
        outbox_send("gating.tasks.access_mail_send_task", subject, body, recipients)


def notify_new_request(request: AccessRequest) -> None:
    config = GatingConfig.objects.filter(repo=request.repo).first()
    if config and config.notify_mode == NotifyMode.DAILY:
        return  # the daily digest task reports it
    answers = "\n".join(f"  {label}: {value}" for label, value in request.fields.items()) or "  (no form fields)"
    _after_commit(
        f"[Gatehouse] {request.user.username} requests access to {request.repo.repo_id}",
        f"{request.user.username} asked for access to {request.repo.repo_id}.\n\nAnswers:\n{answers}\n\n"
        f"Review pending requests at {request.repo.web_path}/access-requests\n",
        reviewer_emails(request.repo),
    )


def notify_decision(request: AccessRequest) -> None:
    repo_id = request.repo.repo_id
    if request.status == "accepted":
        until = f" until {request.expires_at:%Y-%m-%d %H:%M} UTC" if request.expires_at else ""
        body = f"Your request to access {repo_id} has been accepted{until}. You can now download its files."
    elif request.status == "rejected":
        reason = f"\n\nReason: {request.rejection_reason}" if request.rejection_reason else ""
        body = f"Your request to access {repo_id} has been rejected by the repo's authors.{reason}"
    else:
        body = f"Your access to {repo_id} is pending review again."
    recipients = [request.user.email] if request.user.email else []
    _after_commit(f"[Gatehouse] Access to {repo_id}: {request.status}", body, recipients)


def send_digest(repo: Repo, requests: list[AccessRequest]) -> None:
    lines = "\n".join(f"- {r.user.username} ({r.created_at:%Y-%m-%d %H:%M} UTC)" for r in requests)
    send(
        f"[Gatehouse] {len(requests)} new access request(s) for {repo.repo_id}",
        f"New requests since the last digest:\n{lines}\n\nReview them at {repo.web_path}/access-requests\n",
        reviewer_emails(repo),
    )
