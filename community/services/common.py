"""Helpers shared by the community services: input checks, numbering, throttling, notifying."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from community.models import Discussion, Event, EventType
from community.rendering import comment_html
from core import ratelimit
from core.errors import BadRequest
from core.outbox import outbox_send
from registry import hooks
from registry.models import Repo

MAX_TITLE = 200
MAX_COMMENT = 65536


def clean_text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    """Text as stored: a string, stripped, within bounds, without NUL (PostgreSQL refuses it).
    The services take text as the API read it from JSON (None when absent) and clean it here."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest(f"'{field}' must be a string.")
    value = value.replace("\r\n", "\n").strip()
    if "\x00" in value:
        raise BadRequest(f"'{field}' must not contain NUL characters.")
    if required and not value:
        raise BadRequest(f"'{field}' must not be empty.")
    if len(value) > max_length:
        raise BadRequest(f"'{field}' is longer than {max_length} characters.")
    return value


def clean_title(value: object) -> str:
    title = clean_text(value, field="title", max_length=MAX_TITLE)
    return " ".join(title.split())


def throttle(user: User) -> None:
    """One post against the user's allowance; 429 with the Hub's RateLimit headers past it."""
    ratelimit.hit(
        bucket="community-post",
        key=str(user.pk),
        limit=settings.GATEHOUSE_COMMUNITY_POSTS_PER_WINDOW,
        window=settings.GATEHOUSE_COMMUNITY_WINDOW_SECONDS,
    )


def next_number(repo: Repo) -> int:
    """Discussions and pull requests share one sequence per repo. The repo row is locked so two
    threads opened at once get consecutive numbers (the unique constraint backs this up)."""
    Repo.objects.select_for_update().filter(pk=repo.pk).values_list("pk", flat=True).first()
    current = Discussion.objects.filter(repo=repo).aggregate(top=Max("num"))["top"] or 0
    return current + 1


def add_event(discussion: Discussion, *, kind: str, author: User | None, raw: str = "", data=None) -> Event:
    html, html_version = comment_html(raw) if kind == EventType.COMMENT else ("", "")
    event = Event.objects.create(
        discussion=discussion,
        type=kind,
        author=author,
        raw=raw,
        data=data or {},
        html=html,
        html_version=html_version,
    )
    Discussion.objects.filter(pk=discussion.pk).update(updated_at=event.created_at)
    return event


def add_comment(discussion: Discussion, *, author: User, raw: str) -> Event:
    return add_event(discussion, kind=EventType.COMMENT, author=author, raw=raw)


def notify(event: Event, *, new_thread: bool = False) -> None:
    """Emails go out from the worker once the transaction commits (ids only), through the outbox:
    a broker that loses the message (a Redis restart) does not lose the mail. The event is also
    announced to the registry's repo-event listeners (webhooks), in the Hub's terms."""
    outbox_send("community.tasks.notification_send_task", event.pk, new_thread)
    _announce(event, new_thread)


# (scope, action) of the Hub's webhooks for each kind of thread event; commits to a pull request
# are announced by the registry as repo.content events of its refs/pr/N.
_HUB_EVENTS = {
    EventType.COMMENT: ("discussion.comment", "create"),
    EventType.STATUS_CHANGE: ("discussion", "update"),
    EventType.TITLE_CHANGE: ("discussion", "update"),
}


def _announce(event: Event, new_thread: bool) -> None:
    scope_action = ("discussion", "create") if new_thread else _HUB_EVENTS.get(EventType(event.type))
    if scope_action is None:
        return
    scope, action = scope_action
    announce(
        event.discussion,
        scope=scope,
        action=action,
        actor=event.author_id,
        comment=event if event.type == EventType.COMMENT else None,
    )


def announce(discussion: Discussion, *, scope: str, action: str, actor: int | None, comment: Event | None = None):
    """Tell the registry's repo-event listeners (webhooks) of a change to a thread, in the Hub's
    terms: `discussion` or `discussion.comment`, `create` or `update` (edits, hiding, pin, lock)."""
    hooks.repo_event_emit(
        hooks.RepoEvent(
            repo_pk=discussion.repo_id,
            scope=scope,
            action=action,
            actor_pk=actor,
            discussion_pk=discussion.pk,
            comment_pk=comment.pk if comment is not None else None,
        )
    )


def now():
    return timezone.now()
