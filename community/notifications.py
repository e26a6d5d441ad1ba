"""Who hears about a thread's events, and what the email says.

Recipients: the thread's participants (its author and everyone who commented), users @mentioned
in the comment, the repo's watchers, and for a new thread the repo's moderators; never the actor.
SECURITY: every recipient is checked against the policy when the mail is built (in the worker),
so a mention cannot tell an outsider that a private repo's thread exists, and a revoked member
stops hearing at once.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from accounts.models import Membership, Role, User
from community.models import Discussion, Event, EventType, Report, Watch
from gating.policy import Action, Principal, RepoAccess, can, repos_visible_to
from registry.models import Repo

MENTION = re.compile(r"(?<![\w@/.])@([A-Za-z0-9][A-Za-z0-9_.-]{0,94}[A-Za-z0-9_]|[A-Za-z0-9])")
MAX_MENTIONS = 50


def mentioned_usernames(raw: str) -> list[str]:
    names: list[str] = []
    for match in MENTION.finditer(raw or ""):
        if match.group(1).lower() not in (name.lower() for name in names):
            names.append(match.group(1))
        if len(names) >= MAX_MENTIONS:
            break
    return names


def moderators_of(repo: Repo) -> list[User]:
    """Users who can write to the repo: its owner, or the owning organisation's writers."""
    if repo.owner_user_id is not None:
        candidates = User.objects.filter(pk=repo.owner_user_id)
    else:
        # Contributors write to the repos they created (gating.policy decides below).
        members = Membership.objects.filter(
            org_id=repo.owner_org_id, role__in=[Role.CONTRIBUTOR, Role.WRITE, Role.ADMIN]
        )
        candidates = User.objects.filter(pk__in=members.values("user_id"))
    return [user for user in candidates if can(RepoAccess(Principal(user=user), repo), Action.WRITE)]


def _participants(discussion: Discussion) -> set[int]:
    ids: set[int | None] = set(discussion.events.filter(type=EventType.COMMENT).values_list("author_id", flat=True))
    ids.add(discussion.author_id)
    return {pk for pk in ids if pk is not None}


def recipients_for(event: Event, *, new_thread: bool) -> list[User]:
    discussion = event.discussion
    repo = discussion.repo
    ids = _participants(discussion)
    ids |= set(Watch.objects.filter(repo=repo).values_list("user_id", flat=True))
    if event.type == EventType.COMMENT:
        names = mentioned_usernames(event.raw)
        if names:
            query = User.objects.none()
            for name in names:
                query |= User.objects.filter(username__iexact=name)
            ids |= set(query.values_list("pk", flat=True))
    if new_thread:
        ids |= {user.pk for user in moderators_of(repo)}
    if event.author_id is not None:
        ids.discard(event.author_id)
    users = User.objects.filter(pk__in=ids, is_active=True).exclude(email="").order_by("pk")
    return [user for user in users if sees_repo(user, repo)]


def sees_repo(user: User, repo: Repo) -> bool:
    """SECURITY: `check(VIEW)` assumes the repo was already resolved as visible, so visibility is
    asked here through the policy's own visibility filter, the one `resolve_repo` uses."""
    return repos_visible_to(Principal(user=user)).filter(pk=repo.pk).exists()


def thread_url(discussion: Discussion) -> str:
    # The worker has no request to ask for the host: links use the configured public URL.
    return f"{settings.GATEHOUSE_PUBLIC_URL}{discussion.repo.web_path}/discussions/{discussion.num}"


def _describe(event: Event) -> str:
    actor = event.author.username if event.author else "Someone"
    if event.type == EventType.COMMENT:
        return f"{actor} wrote:\n\n{event.raw}"
    if event.type == EventType.STATUS_CHANGE:
        return f"{actor} changed the status to {event.data.get('status')}."
    if event.type == EventType.TITLE_CHANGE:
        return f'{actor} renamed the thread from "{event.data.get("from")}" to "{event.data.get("to")}".'
    return f"{actor} pushed {str(event.data.get('oid', ''))[:7]}: {event.data.get('subject')}"


def send_event_emails(event: Event, *, new_thread: bool) -> int:
    discussion = event.discussion
    if event.is_hidden:
        return 0
    users = recipients_for(event, new_thread=new_thread)
    if not users:
        return 0
    kind = "pull request" if discussion.is_pull_request else "discussion"
    subject = f"[{discussion.repo.repo_id}] {discussion.title} ({kind} #{discussion.num})"
    body = f"{_describe(event)}\n\n{thread_url(discussion)}\n"
    messages = [_message(f"event-{event.pk}", subject, body, user) for user in users]
    return get_connection().send_messages(messages) or 0


def send_report_emails(report: Report) -> int:
    discussion = report.discussion
    users = [user for user in moderators_of(discussion.repo) if user.email and user.is_active]
    if not users:
        return 0
    reporter = report.reporter.username if report.reporter else "A user"
    what = "a comment" if report.event_id else "the thread"
    subject = f"[{discussion.repo.repo_id}] Report on #{discussion.num}: {discussion.title}"
    body = f"{reporter} reported {what}:\n\n{report.reason}\n\n{thread_url(discussion)}\n"
    messages = [_message(f"report-{report.pk}", subject, body, user) for user in users]
    return get_connection().send_messages(messages) or 0


def _message(key: str, subject: str, body: str, user: User) -> EmailMessage:
    """A mail whose Message-ID is the same at every send to this user: the outbox runs a task again
    when a worker died after sending (core/outbox.py), and the copy carries the same id (the
    receiver's idempotency key: mail clients and archives drop a repeated Message-ID)."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "gatehouse.invalid"
    headers = {"Message-ID": f"<gatehouse.{key}.{user.pk}@{domain}>"}
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], headers=headers)
