"""Threads and comments: open, comment, edit, hide, rename, close and reopen, pin, lock, report,
watch. Callers have already checked who may do it (community.permissions); these functions enforce
what the thread's state allows."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from community.models import (
    CommentRevision,
    CommunitySettings,
    Discussion,
    Event,
    EventType,
    Report,
    Status,
    Watch,
)
from community.rendering import comment_html
from community.services.common import (
    MAX_COMMENT,
    add_comment,
    add_event,
    announce,
    clean_text,
    clean_title,
    next_number,
    notify,
    now,
    throttle,
)
from core.errors import BadRequest
from core.outbox import outbox_send
from registry.models import Repo


@transaction.atomic
def discussion_create(*, repo: Repo, author: User, title: str | None, description: str | None) -> Discussion:
    """A discussion whose first event is the opening comment (the description)."""
    title = clean_title(title)
    description = clean_text(description, field="description", max_length=MAX_COMMENT)
    throttle(author)
    discussion = Discussion.objects.create(repo=repo, num=next_number(repo), title=title, author=author)
    notify(add_comment(discussion, author=author, raw=description), new_thread=True)
    return discussion


@transaction.atomic
def comment_create(*, discussion: Discussion, author: User, raw: str | None) -> Event:
    raw = clean_text(raw, field="comment", max_length=MAX_COMMENT)
    throttle(author)
    event = add_comment(discussion, author=author, raw=raw)
    notify(event)
    return event


@transaction.atomic
def comment_edit(*, event: Event, editor: User, raw: str | None) -> Event:
    """Replace a comment's text, keeping the superseded version in its history."""
    raw = clean_text(raw, field="content", max_length=MAX_COMMENT)
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.type != EventType.COMMENT:
        raise BadRequest("Only comments can be edited.")
    if event.is_hidden:
        raise BadRequest("A hidden comment cannot be edited.")
    if raw == event.raw:
        return event
    throttle(editor)
    CommentRevision.objects.create(
        event=event,
        raw=event.raw,
        author_id=event.edited_by_id or event.author_id,
        created_at=event.edited_at or event.created_at,
    )
    event.raw, event.edited_at, event.edited_by = raw, now(), editor
    event.html, event.html_version = comment_html(raw)
    event.save(update_fields=["raw", "html", "html_version", "edited_at", "edited_by"])
    announce(event.discussion, scope="discussion.comment", action="update", actor=editor.pk, comment=event)
    return event


@transaction.atomic
def comment_hide(*, event: Event, actor: User) -> Event:
    """Hide a comment for good (as on the Hub there is no un-hide). Hiding twice is a no-op."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.type != EventType.COMMENT:
        raise BadRequest("Only comments can be hidden.")
    if not event.is_hidden:
        event.hidden_at, event.hidden_by = now(), actor
        event.html = event.html_version = ""  # the text stays for the records; its HTML is never served
        event.save(update_fields=["hidden_at", "hidden_by", "html", "html_version"])
        announce(event.discussion, scope="discussion.comment", action="update", actor=actor.pk, comment=event)
    return event


@transaction.atomic
def discussion_rename(*, discussion: Discussion, actor: User, title: str | None) -> Event:
    title = clean_title(title)
    discussion = Discussion.objects.select_for_update().get(pk=discussion.pk)
    if title == discussion.title:
        raise BadRequest("The new title is the same as the current one.")
    throttle(actor)
    old, discussion.title = discussion.title, title
    discussion.save(update_fields=["title"])
    event = add_event(discussion, kind=EventType.TITLE_CHANGE, author=actor, data={"from": old, "to": title})
    notify(event)
    return event


@transaction.atomic
def discussion_status_change(*, discussion: Discussion, actor: User, status: str | None, comment: str = "") -> Event:
    """Close or (re)open. Opening a draft pull request publishes it; merged is final."""
    if status not in (Status.OPEN, Status.CLOSED):
        raise BadRequest("'status' must be 'open' or 'closed'.")
    comment = clean_text(comment, field="comment", max_length=MAX_COMMENT, required=False)
    discussion = Discussion.objects.select_for_update().get(pk=discussion.pk)
    if discussion.status == Status.MERGED:
        raise BadRequest("A merged pull request cannot change status.")
    if discussion.status == status:
        raise BadRequest(f"The discussion is already {status}.")
    if comment:
        throttle(actor)
        add_comment(discussion, author=actor, raw=comment)
    discussion.status = status
    discussion.save(update_fields=["status"])
    event = add_event(discussion, kind=EventType.STATUS_CHANGE, author=actor, data={"status": status})
    notify(event)
    return event


@transaction.atomic
def discussion_pin(*, discussion: Discussion, pinned: bool, actor: User) -> Discussion:
    if Discussion.objects.filter(pk=discussion.pk).exclude(is_pinned=pinned).update(is_pinned=pinned):
        announce(discussion, scope="discussion", action="update", actor=actor.pk)
    discussion.is_pinned = pinned
    return discussion


@transaction.atomic
def discussion_lock(*, discussion: Discussion, locked: bool, actor: User) -> Discussion:
    if Discussion.objects.filter(pk=discussion.pk).exclude(is_locked=locked).update(is_locked=locked):
        announce(discussion, scope="discussion", action="update", actor=actor.pk)
    discussion.is_locked = locked
    return discussion


@transaction.atomic
def community_settings_update(*, repo: Repo, discussions_disabled: bool) -> CommunitySettings:
    """Turning discussions off is reversible: threads stay readable, only posting stops."""
    row, _ = CommunitySettings.objects.update_or_create(
        repo=repo, defaults={"discussions_disabled": discussions_disabled}
    )
    return row


@transaction.atomic
def report_create(*, discussion: Discussion, reporter: User, reason: str | None, event: Event | None = None) -> Report:
    """A private report to the repo's moderators, who hear about it by email."""
    reason = clean_text(reason, field="reason", max_length=5000)
    if event is not None and event.discussion_id != discussion.pk:
        raise BadRequest("The comment does not belong to this discussion.")
    throttle(reporter)
    report = Report.objects.create(discussion=discussion, event=event, reporter=reporter, reason=reason)
    outbox_send("community.tasks.report_notify_task", report.pk)
    return report


@transaction.atomic
def report_resolve(*, report: Report, moderator: User, hide_comment: bool = False) -> Report:
    """Close a report; with `hide_comment`, hide the reported comment in the same transaction."""
    if hide_comment:
        if report.event is None or report.event.type != EventType.COMMENT:
            raise BadRequest("Only a reported comment can be hidden.")
        comment_hide(event=report.event, actor=moderator)
    if report.resolved_at is None:
        report.resolved_at, report.resolved_by = now(), moderator
        report.save(update_fields=["resolved_at", "resolved_by"])
    return report


@transaction.atomic
def watch_set(*, user: User, repo: Repo, watching: bool) -> bool:
    if watching:
        Watch.objects.get_or_create(user=user, repo=repo)
    else:
        Watch.objects.filter(user=user, repo=repo).delete()
    return watching
