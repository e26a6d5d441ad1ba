"""The Hub's JSON shapes for discussions and their events (hub-api.md section 7).

Datetimes go through `isoformat_z` (the client's parser accepts nothing else); comment HTML is the
rendering stored with the comment while its stamp is current, else rendered from Markdown and
sanitised through the shared cache (community.rendering), so no HTML of another renderer is served.
"""

from __future__ import annotations

from community.models import Discussion, Event, EventType
from community.rendering import html_version, render_comment, render_comments
from community.selectors import EVENT_COLUMNS, Thread
from core.timeutil import isoformat_z

__all__ = ["HIDDEN_TEXT", "details_json", "discussion_json", "event_json", "render_comment", "render_comments"]

HIDDEN_TEXT = "This comment has been hidden"


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


def details_json(discussion: Discussion, thread: Thread, *, conflicts: list[str] | None, diff: str | None) -> dict:
    """The whole thread (community.selectors.thread_for), built from rows: no query per event, and
    no rendering but of comments whose stored HTML is stale (a renderer change, not yet backfilled)."""
    payload = discussion_json(discussion)
    stamp = html_version()
    revisions = thread["revisions"]
    visible = [row for row in thread["events"] if row["type"] == EventType.COMMENT and row["hidden_at"] is None]
    htmls = render_comments(
        [
            *(row["raw"] for row in visible if row["html_version"] != stamp),
            *(revision["raw"] for row in visible for revision in revisions.get(row["pk"], ())),
        ]
    )
    for row in visible:
        if row["html_version"] == stamp:
            htmls.setdefault(row["raw"], row["html"])
    people = {pk: _person(row) for pk, row in thread["people"].items()}
    payload["events"] = [
        thread_event_json(row, people=people, htmls=htmls, revisions=revisions.get(row["pk"], []))
        for row in thread["events"]
    ]
    if discussion.is_pull_request:
        changes = {"base": discussion.base_ref}
        if discussion.merge_commit_oid:
            changes["mergeCommitId"] = discussion.merge_commit_oid
        payload["changes"] = changes
        payload["filesWithConflicts"] = conflicts or []
        if diff is not None:
            payload["diff"] = diff
    return payload


def _person(row: dict) -> dict:
    return {"name": row["username"], "fullname": row["fullname"] or row["username"], "type": "user"}


def event_json(event: Event) -> dict:
    """The Hub's shape of one event (the answer to a post, an edit or a hide)."""
    row = {column: getattr(event, column) for column in EVENT_COLUMNS}
    row["payload"] = event.data
    users = [event.author, event.edited_by, event.hidden_by]
    is_comment = event.type == EventType.COMMENT
    revisions = list(event.revisions.select_related("author").order_by("-id")) if is_comment else []
    users += [revision.author for revision in revisions]
    people = {user.pk: user_json(user) for user in users if user is not None}
    history = [
        {"raw": revision.raw, "author_id": revision.author_id, "created_at": revision.created_at}
        for revision in revisions
    ]
    htmls = {}
    if is_comment and not event.is_hidden:
        htmls = render_comments([event.raw, *(revision.raw for revision in revisions)])
    return thread_event_json(row, people=people, htmls=htmls, revisions=history)


def _with_person(payload: dict, people: dict, pk: int | None) -> dict:
    person = people.get(pk) if pk else None
    if person is not None:  # absent author: the client reports "deleted"
        payload["author"] = person
    return payload


def thread_event_json(row: dict, *, people: dict, htmls: dict[str, str], revisions: list[dict]) -> dict:
    """The Hub's shape of one thread event from its row (selectors.EVENT_COLUMNS); `people` holds
    user_json by pk, `htmls` the comments' HTML by text, `revisions` the earlier versions."""
    payload: dict = {"id": row["public_id"], "type": row["type"], "createdAt": isoformat_z(row["created_at"])}
    _with_person(payload, people, row["author_id"])
    kind, data = row["type"], row["payload"]
    if kind == EventType.COMMENT:
        payload["data"] = _comment_data(row, people, htmls, revisions)
    elif kind == EventType.STATUS_CHANGE:
        payload["data"] = {"status": data.get("status")}
    elif kind == EventType.TITLE_CHANGE:
        payload["data"] = {"from": data.get("from"), "to": data.get("to")}
    elif kind == EventType.COMMIT:
        payload["data"] = {"oid": data.get("oid"), "subject": data.get("subject")}
    return payload


def _comment_data(row: dict, people: dict, htmls: dict[str, str], revisions: list[dict]) -> dict:
    if row["hidden_at"] is not None:
        # SECURITY: a hidden comment's words, current or past, are never served again.
        latest = {"raw": HIDDEN_TEXT, "html": f"<p>{HIDDEN_TEXT}</p>", "updatedAt": isoformat_z(row["hidden_at"])}
        data = {
            "edited": bool(revisions),
            "hidden": True,
            "latest": latest,
            "numEdits": len(revisions),
            "history": [],
            "editors": [],
        }
        hidden_by = people.get(row["hidden_by_id"]) if row["hidden_by_id"] else None
        if hidden_by is not None:
            data["hiddenBy"] = hidden_by["name"]
        return data
    editor = row["edited_by_id"] if row["edited_at"] else row["author_id"]
    raw = row["raw"]
    latest = _with_person(
        {
            "raw": raw,
            "html": htmls.get(raw) or render_comment(raw),
            "updatedAt": isoformat_z(row["edited_at"] or row["created_at"]),
        },
        people,
        editor,
    )
    history = [
        _with_person(
            {
                "raw": revision["raw"],
                "html": htmls.get(revision["raw"]) or render_comment(revision["raw"]),
                "updatedAt": isoformat_z(revision["created_at"]),
            },
            people,
            revision["author_id"],
        )
        for revision in revisions
    ]
    if history:
        editors = sorted({entry["author"]["name"] for entry in [latest, *history] if "author" in entry})
    else:
        editors = [latest["author"]["name"]] if "author" in latest else []
    return {
        "edited": bool(revisions),
        "hidden": False,
        "latest": latest,
        "numEdits": len(revisions),
        "history": history,
        "editors": editors,
        "reactions": [],
    }
