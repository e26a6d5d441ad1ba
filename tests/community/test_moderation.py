"""Moderation and notifications: lock, pin, the per-repo switch, reports, irreversible hiding,
edit history, @mentions, watchers and participants by email."""

import json

import pytest
from django.test import Client

from community import services
from community.models import Event, Report
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def api(user=None) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}") if user else Client()


def post(client: Client, url: str, body=None, method="post"):
    return getattr(client, method)(
        url, data=json.dumps(body) if body is not None else "", content_type="application/json"
    )


BASE = "/api/models/alice/model/discussions"


def test_locked_thread_takes_posts_from_moderators_only(model, alice, bob):
    thread = services.discussion_create(repo=model, author=bob, title="Hot topic", description="...")
    assert post(api(bob), f"{BASE}/1/lock", {"locked": True}).status_code == 403
    assert post(api(alice), f"{BASE}/1/lock", {"locked": True}).json()["locked"] is True
    refused = post(api(bob), f"{BASE}/1/comment", {"comment": "but..."})
    assert refused.status_code == 403 and "locked" in refused.json()["error"]
    assert post(api(bob), f"{BASE}/1/status", {"status": "closed"}).status_code == 403
    assert post(api(alice), f"{BASE}/1/comment", {"comment": "Locked: see the FAQ."}).status_code == 200
    assert post(api(alice), f"{BASE}/1/lock", {"locked": False}).json()["locked"] is False
    assert post(api(bob), f"{BASE}/1/comment", {"comment": "thanks"}).status_code == 200
    assert thread.events.count() == 3


def test_pinned_threads_come_first(model, alice, bob):
    for title in ("First", "Second", "Third"):
        services.discussion_create(repo=model, author=bob, title=title, description="...")
    assert post(api(alice), f"{BASE}/1/pin", {"pinned": True}).status_code == 200
    listing = Client().get(BASE).json()
    assert [(d["num"], d["pinned"]) for d in listing["discussions"]] == [(1, True), (3, False), (2, False)]
    assert listing["count"] == 3 and listing["start"] == 0


def test_switching_discussions_off_and_on(model, alice, bob):
    services.discussion_create(repo=model, author=bob, title="Before", description="...")
    assert (
        post(
            api(bob), "/api/models/alice/model/community-settings", {"discussionsDisabled": True}, method="put"
        ).status_code
        == 403
    )
    assert post(
        api(alice), "/api/models/alice/model/community-settings", {"discussionsDisabled": True}, method="put"
    ).json() == {"discussionsDisabled": True}
    refused = post(api(bob), BASE, {"title": "After", "description": "..."})
    assert refused.status_code == 403 and refused.json()["error"] == "Discussions are disabled for this repository."
    assert post(api(bob), f"{BASE}/1/comment", {"comment": "hello?"}).status_code == 403
    assert Client().get(f"{BASE}/1").status_code == 200  # existing threads stay readable
    assert Client().get("/api/models/alice/model/community-settings").json() == {"discussionsDisabled": True}
    assert post(api(alice), f"{BASE}/1/comment", {"comment": "Moved to the forum."}).status_code == 200
    post(api(alice), "/api/models/alice/model/community-settings", {"discussionsDisabled": False}, method="put")
    assert post(api(bob), BASE, {"title": "After", "description": "..."}).json()["num"] == 2


def test_report_reaches_the_moderators_only(model, alice, bob, mailoutbox):
    carol = UserFactory(username="carol")
    thread = services.discussion_create(repo=model, author=carol, title="Free weights", description="Click here")
    comment = services.comment_create(discussion=thread, author=carol, raw="spammy link")
    mailoutbox.clear()
    response = post(api(bob), f"{BASE}/1/report", {"reason": "This is spam.", "commentId": comment.public_id})
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.event == comment and report.reporter == bob and report.reason == "This is spam."
    assert [mail.to for mail in mailoutbox] == [[alice.email]]
    assert "This is spam." in mailoutbox[0].body and "/alice/model/discussions/1" in mailoutbox[0].body
    assert post(api(bob), f"{BASE}/1/report", {"reason": ""}).status_code == 400
    assert (
        post(api(bob), f"{BASE}/1/report", {"reason": "x", "commentId": "ffffffffffffffffffffffff"}).status_code == 404
    )


def test_hiding_is_irreversible_and_serves_no_text(model, alice, bob):
    thread = services.discussion_create(repo=model, author=bob, title="Oops", description="my api key is abc123")
    opening = thread.events.get()
    services.comment_edit(event=opening, editor=bob, raw="my api key is def456")
    assert post(api(alice), f"{BASE}/1/comment/{opening.public_id}/hide").status_code == 200
    again = post(api(bob), f"{BASE}/1/comment/{opening.public_id}/hide")
    assert again.status_code == 200 and again.json()["updatedComment"]["data"]["hidden"] is True
    refused = post(api(bob), f"{BASE}/1/comment/{opening.public_id}/edit", {"content": "restore"})
    assert refused.status_code == 400
    details = Client().get(f"{BASE}/1").content
    assert b"abc123" not in details and b"def456" not in details
    page = Client().get("/alice/model/discussions/1").content
    assert b"abc123" not in page and b"def456" not in page and b"This comment has been hidden" in page
    opening.refresh_from_db()
    assert opening.raw == "my api key is def456" and opening.hidden_by == alice  # kept for the record only


def test_edit_history_is_kept_newest_first(model, bob):
    thread = services.discussion_create(repo=model, author=bob, title="Typos", description="v1")
    event = thread.events.get()
    for text in ("v2", "v3"):
        post(api(bob), f"{BASE}/1/comment/{event.public_id}/edit", {"content": text})
    data = Client().get(f"{BASE}/1").json()["events"][0]["data"]
    assert data["latest"]["raw"] == "v3" and data["edited"] is True and data["numEdits"] == 2
    assert [entry["raw"] for entry in data["history"]] == ["v2", "v1"]
    assert all(entry["author"]["name"] == "bob" and entry["updatedAt"].endswith("Z") for entry in data["history"])


def test_a_whole_thread_is_read_in_queries_that_do_not_grow_with_it(model, alice, bob):
    """The API answers a thread whole (as the Hub does): its events, their authors and their edit
    histories in a fixed number of queries, not one per comment (a 5,000-comment thread)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    thread = services.discussion_create(repo=model, author=bob, title="Long", description="v1")
    services.comment_edit(event=thread.events.get(), editor=alice, raw="v2")

    def read() -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as captured:
            answer = Client().get(f"{BASE}/1")
        assert answer.status_code == 200
        return len(captured), answer.json()["events"]

    few, _ = read()
    for n in range(20):
        comment = services.comment_create(discussion=thread, author=(alice, bob)[n % 2], raw=f"comment {n}")
        if n % 5 == 0:
            services.comment_edit(event=comment, editor=comment.author, raw=f"comment {n}, edited")
    services.comment_hide(event=Event.objects.get(discussion=thread, raw="comment 3"), actor=alice)
    many, events = read()
    assert many == few
    assert len(events) == 21
    opening = events[0]["data"]
    assert opening["latest"]["raw"] == "v2" and opening["latest"]["author"]["name"] == "alice"
    assert [entry["raw"] for entry in opening["history"]] == ["v1"] and opening["editors"] == ["alice", "bob"]
    assert events[1]["author"]["name"] == "alice" and events[1]["data"]["history"][0]["raw"] == "comment 0"
    hidden = next(event for event in events if event["data"].get("hidden"))
    assert hidden["data"]["latest"]["raw"] == "This comment has been hidden" and hidden["data"]["hiddenBy"] == "alice"
    assert "comment 3" not in json.dumps(events)


def test_mentions_watchers_and_participants_get_email(model, alice, bob, mailoutbox):
    carol, dave, erin = (UserFactory(username=name) for name in ("carol", "dave", "erin"))
    services.watch_set(user=carol, repo=model, watching=True)
    thread = services.discussion_create(repo=model, author=bob, title="Speed", description="Slow on CPU")
    assert sorted(mail.to[0] for mail in mailoutbox) == [alice.email, carol.email]  # moderator, watcher
    mailoutbox.clear()
    services.comment_create(discussion=thread, author=alice, raw="cc @dave and @Erin, not user@example.org")
    assert sorted(mail.to[0] for mail in mailoutbox) == sorted([bob.email, carol.email, dave.email, erin.email])
    assert all("cc @dave" in mail.body and "/alice/model/discussions/1" in mail.body for mail in mailoutbox)
    assert all(mail.subject == "[alice/model] Speed (discussion #1)" for mail in mailoutbox)


def test_mentions_never_reach_people_who_cannot_see_the_repo(alice, mailoutbox):
    org = OrganizationFactory(name="lab")
    add_member(org, alice, "admin")
    insider, outsider = UserFactory(username="insider"), UserFactory(username="outsider")
    add_member(org, insider, "read")
    repo = make_repo(org, "secret", {"a.txt": b"a"}, private=True)
    thread = services.discussion_create(repo=repo, author=alice, title="Plan", description="...")
    mailoutbox.clear()
    services.comment_create(discussion=thread, author=alice, raw="@outsider @insider thoughts?")
    assert [mail.to for mail in mailoutbox] == [[insider.email]]
    assert outsider.email not in str([mail.to for mail in mailoutbox])


def test_titles_and_comments_are_validated(model, bob):
    assert post(api(bob), BASE, {"title": "  ", "description": "x"}).status_code == 400
    assert post(api(bob), BASE, {"title": "x" * 201, "description": "x"}).status_code == 400
    assert post(api(bob), BASE, {"title": "Fine", "description": "nul \x00 byte"}).status_code == 400
    assert post(api(bob), BASE, ["not", "an", "object"]).status_code == 400
    assert post(api(bob), BASE, {"title": "Fine", "description": "x"}).status_code == 200
    assert post(api(bob), f"{BASE}/1/status", {"status": "merged"}).status_code == 400
    assert post(api(bob), f"{BASE}/1/merge").status_code == 403
    assert Client().get(f"{BASE}/99").status_code == 404
    assert Client().get(f"{BASE}?type=bogus").status_code == 400
    assert Event.objects.count() == 1
