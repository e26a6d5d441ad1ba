"""A long thread (issue 15, data at scale): the API builds it from rows in a fixed number of queries
whatever its length, with the HTML stored when each comment was written (re-rendered while its stamp
is stale); the page shows the opening post and the newest events, with a link to the earlier ones;
the real client still reads a thread longer than a page whole."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from huggingface_hub import HfApi
from huggingface_hub.community import DiscussionComment

from community import services
from community.models import Event, EventType
from community.rendering import html_version
from community.services.common import add_comment
from tests.support.builders import UserFactory, make_repo, token_for

PAGE = 5


def _thread(alice, comments: int, *, name: str = "talk"):
    """alice/<name> #1: an opening post by alice, then `comments` comments by three people, one of
    them edited, one hidden, and a status change."""
    repo = make_repo(alice, name)
    people = [alice, *(UserFactory(username=f"{name}-{n}") for n in range(2))]
    discussion = services.discussion_create(repo=repo, author=alice, title="Long", description="Opening *post*")
    for n in range(comments):
        add_comment(discussion, author=people[n % 3], raw=f"Comment **{n}**")
    first = discussion.events.filter(type=EventType.COMMENT).order_by("id")[1]
    services.comment_edit(event=first, editor=first.author, raw="Comment **0**, edited")
    services.comment_hide(event=discussion.events.order_by("id")[2], actor=alice)
    services.discussion_status_change(discussion=discussion, actor=alice, status="closed", comment="")
    return discussion


@pytest.mark.django_db
def test_the_api_reads_a_thread_in_the_same_queries_whatever_its_length(alice):
    counts = []
    for comments, name in ((3, "short"), (40, "long")):
        _thread(alice, comments, name=name)
        with CaptureQueriesContext(connection) as captured:
            answer = Client().get(f"/api/models/alice/{name}/discussions/1")
        assert answer.status_code == 200 and len(answer.json()["events"]) == comments + 2
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_stored_html_is_served_while_its_stamp_is_current(alice):
    discussion = _thread(alice, 3)
    opening = discussion.events.order_by("id").first()
    assert opening.html == "<p>Opening <em>post</em></p>\n" and opening.html_version == html_version()
    Event.objects.filter(pk=opening.pk).update(html="<p>stored</p>")
    events = Client().get("/api/models/alice/talk/discussions/1").json()["events"]
    assert events[0]["data"]["latest"]["html"] == "<p>stored</p>"
    # SECURITY: a rendering of another renderer (a sanitiser fix bumps the stamp) is never served.
    Event.objects.filter(pk=opening.pk).update(html_version="1:0:0")
    events = Client().get("/api/models/alice/talk/discussions/1").json()["events"]
    assert events[0]["data"]["latest"]["html"] == "<p>Opening <em>post</em></p>\n"
    hidden = events[2]["data"]
    assert hidden["hidden"] is True and hidden["latest"]["raw"] == "This comment has been hidden"
    assert Event.objects.get(public_id=events[2]["id"]).html == ""  # hiding drops the rendering too


@pytest.mark.django_db
def test_the_backfill_renders_old_comments_in_batches(alice, monkeypatch):
    discussion = _thread(alice, 7)
    Event.objects.update(html="", html_version="")
    migration = importlib.import_module("community.migrations.0003_event_html")
    monkeypatch.setattr(migration, "BATCH", 2)
    with connection.schema_editor() as editor:
        migration.backfill(apps, editor)
    comments = discussion.events.filter(type=EventType.COMMENT, hidden_at__isnull=True)
    assert {row.html_version for row in comments} == {html_version()}
    assert comments.order_by("id").first().html == "<p>Opening <em>post</em></p>\n"
    assert discussion.events.exclude(type=EventType.COMMENT).get().html == ""


@pytest.mark.django_db
def test_the_page_shows_the_opening_post_and_the_newest_events(alice, settings):
    settings.GATEHOUSE_PORTAL_PAGE_SIZE = PAGE
    _thread(alice, 11)  # 13 events: pages of 5, 5 and 3
    newest = Client().get("/alice/talk/discussions/1")
    html = newest.content.decode()
    assert newest.status_code == 200
    assert "Opening <em>post</em>" in html and "Comment <strong>10</strong>" in html
    assert "Comment <strong>8</strong>" not in html  # on page 2
    assert 'data-testid="earlier-events">9 earlier events' in html and 'href="?page=2"' in html
    assert "Page 3 of 3" in html and "closed" in html
    first = Client().get("/alice/talk/discussions/1?page=1").content.decode()
    assert first.count("Opening <em>post</em>") == 1 and "earlier-events" not in first
    assert "Comment <strong>3</strong>" in first and "Comment <strong>4</strong>" not in first
    assert "Page 1 of 3" in first
    fourth = Event.objects.order_by("id")[4].public_id  # Comment 3, on the first page
    linked = Client().get(f"/alice/talk/discussions/1?comment={fourth.upper()}").content.decode()
    assert f'id="comment-{fourth}"' in linked and "Page 1 of 3" in linked


@pytest.mark.django_db(transaction=True)
def test_the_client_reads_a_thread_longer_than_a_page(hub, alice, settings):
    settings.GATEHOUSE_PORTAL_PAGE_SIZE = PAGE
    _thread(alice, 11)
    details = HfApi(token=token_for(alice)).get_discussion_details("alice/talk", 1)
    comments = [event for event in details.events if isinstance(event, DiscussionComment)]
    assert len(details.events) == 13 and len(comments) == 12
    assert [event.id for event in details.events] == list(
        Event.objects.order_by("id").values_list("public_id", flat=True)
    )
    assert comments[0].rendered == "<p>Opening <em>post</em></p>\n"
    assert comments[1].content == "Comment **0**, edited" and comments[1].number_of_edits == 1
    assert comments[2].hidden is True and comments[-1].content == "Comment **10**"
    assert {comment.author for comment in comments} == {"alice", "talk-0", "talk-1"}
