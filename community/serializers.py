"""The Hub's JSON shapes for discussions and their events (hub-api.md section 7).

Datetimes go through `isoformat_z` (the client's parser accepts nothing else); comment HTML is
rendered from Markdown on every read and sanitised (registry.cards.markdown: markdown-it js-default,
then nh3), so no stored HTML is ever trusted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

from community.models import CommentRevision, Discussion, Event, EventType
from core.timeutil import isoformat_z
from registry.cards import markdown

HIDDEN_TEXT = "This comment has been hidden"


def _html_key(raw: str) -> str:  # not memoised: a process must not keep comment texts as keys
    bounds = f"{settings.GATEHOUSE_MARKDOWN_MAX_BYTES}:{settings.GATEHOUSE_MARKDOWN_BUDGET_S}"
    return f"comment-html:{markdown.RENDERER_VERSION}:{bounds}:{hashlib.sha256(raw.encode()).hexdigest()}"


def render_comment(raw: str) -> str:
    """HTML of a comment: a function of its text alone, so cached in the shared cache (rendering
    is bounded, not free: once per text, not once per process)."""
    return render_comments([raw])[raw]


def render_comments(raws: Iterable[str]) -> dict[str, str]:
    """HTML of many comments (by text) in one round trip to the shared cache, not one per comment:
    a thread of 5,000 comments costs one `get_many` once its comments were rendered."""
    keys = {_html_key(raw): raw for raw in set(raws)}
    found = cache.get_many(list(keys))
    missing = {key: markdown.render_markdown(raw) for key, raw in keys.items() if key not in found}
    if missing:
        cache.set_many(missing, settings.GATEHOUSE_RENDER_CACHE_SECONDS)
    return {raw: found[key] if key in found else missing[key] for key, raw in keys.items()}


def user_json(user) -> dict | None:
    if user is None:
        return None
    return {"name": user.username, "fullname": user.fullname or user.username, "type": "user"}


def _with_author(payload: dict, user) -> dict:
    author = user_json(user)
    if author is not None:  # absent author: the client reports "deleted"
        payload["author"] = author
    return payload


def discussion_json(discussion: Discussion, *, num_comments: int | None = None) -> dict:
    repo = discussion.repo
    payload = {
        "num": discussion.num,
        "title": discussion.title,
        "status": discussion.status,
        "isPullRequest": discussion.is_pull_request,
        "createdAt": isoformat_z(discussion.created_at),
        "repo": {"name": repo.repo_id, "type": repo.repo_type},
        "pinned": discussion.is_pinned,
        "locked": discussion.is_locked,
    }
    if num_comments is not None:
        payload["numComments"] = num_comments
    return _with_author(payload, discussion.author)


def details_json(
    discussion: Discussion,
    events: list[Event],
    revisions: dict[int, list[CommentRevision]],
    *,
    conflicts: list[str] | None,
    diff: str | None,
) -> dict:
    """The whole thread (`revisions`: each edited comment's earlier versions by event pk, newest
    first, as community.selectors.thread_for reads them)."""
    payload = discussion_json(discussion)
    htmls = render_comments(
        raw
        for event in events
        if event.type == EventType.COMMENT and not event.is_hidden
        for raw in [event.raw, *(revision.raw for revision in revisions.get(event.pk, ()))]
    )
    payload["events"] = [event_json(event, htmls=htmls, revisions=revisions.get(event.pk, [])) for event in events]
    if discussion.is_pull_request:
        changes = {"base": discussion.base_ref}
        if discussion.merge_commit_oid:
            changes["mergeCommitId"] = discussion.merge_commit_oid
        payload["changes"] = changes
        payload["filesWithConflicts"] = conflicts or []
        if diff is not None:
            payload["diff"] = diff
    return payload


def event_json(
    event: Event, *, htmls: dict[str, str] | None = None, revisions: list[CommentRevision] | None = None
) -> dict:
    """The Hub's shape of one thread event; `htmls` holds comments already rendered (by text),
    `revisions` the comment's earlier versions when already read (else they are read here)."""
    payload: dict = {"id": event.public_id, "type": event.type, "createdAt": isoformat_z(event.created_at)}
    _with_author(payload, event.author)
    if event.type == EventType.COMMENT:
        payload["data"] = _comment_data(event, htmls or {}, revisions)
    elif event.type == EventType.STATUS_CHANGE:
        payload["data"] = {"status": event.data.get("status")}
    elif event.type == EventType.TITLE_CHANGE:
        payload["data"] = {"from": event.data.get("from"), "to": event.data.get("to")}
    elif event.type == EventType.COMMIT:
        payload["data"] = {"oid": event.data.get("oid"), "subject": event.data.get("subject")}
    return payload


def _comment_data(event: Event, htmls: dict[str, str], revisions: list[CommentRevision] | None) -> dict:
    if revisions is None:
        revisions = list(event.revisions.select_related("author").order_by("-id"))
    if event.is_hidden:
        # SECURITY: a hidden comment's words, current or past, are never served again.
        latest = {"raw": HIDDEN_TEXT, "html": f"<p>{HIDDEN_TEXT}</p>", "updatedAt": isoformat_z(event.hidden_at)}
        data = {
            "edited": bool(revisions),
            "hidden": True,
            "latest": latest,
            "numEdits": len(revisions),
            "history": [],
            "editors": [],
        }
        hidden_by = user_json(event.hidden_by)
        if hidden_by is not None:
            data["hiddenBy"] = hidden_by["name"]
        return data
    editor = event.edited_by if event.edited_at else event.author
    updated = isoformat_z(event.edited_at or event.created_at)
    latest = _with_author(
        {"raw": event.raw, "html": htmls.get(event.raw) or render_comment(event.raw), "updatedAt": updated}, editor
    )
    history = [
        _with_author(
            {
                "raw": revision.raw,
                "html": htmls.get(revision.raw) or render_comment(revision.raw),
                "updatedAt": isoformat_z(revision.created_at),
            },
            revision.author,
        )
        for revision in revisions
    ]
    editors = sorted({entry["author"]["name"] for entry in [latest, *history] if "author" in entry})
    return {
        "edited": bool(revisions),
        "hidden": False,
        "latest": latest,
        "numEdits": len(revisions),
        "history": history,
        "editors": editors,
        "reactions": [],
    }
