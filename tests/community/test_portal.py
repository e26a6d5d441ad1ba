"""The community tab in the portal: list and filters, forms, thread actions, diff page."""

import hashlib
import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from community import services
from community.models import Discussion, Report, Watch
from registry.models import Ref, Repo
from registry.selectors import read_text_at, resolve_revision
from registry.storage import get_storage
from tests.community.helpers import push
from tests.support.builders import UserFactory, make_repo

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_tab_list_and_filters(model, alice, bob):
    carol = UserFactory(username="carol")
    services.discussion_create(repo=model, author=bob, title="Bob asks", description="?")
    closed = services.discussion_create(repo=model, author=carol, title="Carol asked", description="?")
    services.discussion_status_change(discussion=closed, actor=carol, status="closed")
    services.pull_request_open(repo=model, author=carol, title="Carol proposes", description="PR")
    assert b'data-testid="community-tab"' in Client().get("/alice/model").content

    def titles(query: str) -> list[str]:
        page = Client().get(f"/alice/model/discussions{query}").content.decode()
        return [title for title in ("Bob asks", "Carol asked", "Carol proposes") if f">{title}</a>" in page]

    assert titles("") == ["Bob asks", "Carol proposes"]  # open (drafts included) by default
    assert titles("?status=closed") == ["Carol asked"]
    assert titles("?status=all&type=pull_request") == ["Carol proposes"]
    assert titles("?status=all&type=discussion&author=carol") == ["Carol asked"]
    assert titles("?status=draft") == ["Carol proposes"]


def _without_csrf(html: bytes) -> bytes:
    """The CSRF token is masked differently on every render; everything else must be identical."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def test_private_repo_pages_look_missing(alice, bob):
    make_repo(alice, "hidden", {"a.txt": b"a"}, private=True)
    for suffix in ("discussions", "discussions/new", "discussions/1", "discussions/1/files"):
        ours, missing = signed_in(bob).get(f"/alice/hidden/{suffix}"), signed_in(bob).get(f"/alice/nope/{suffix}")
        assert ours.status_code == missing.status_code == 404, suffix
        assert _without_csrf(ours.content) == _without_csrf(missing.content)
    assert signed_in(alice).get("/alice/hidden/discussions").status_code == 200


def test_new_discussion_form(model, bob):
    assert Client().get("/alice/model/discussions/new")["Location"].startswith("/login")
    response = signed_in(bob).post(
        "/alice/model/discussions/new", {"type": "discussion", "title": "Hello", "description": "First *post*"}
    )
    assert response.status_code == 302 and response["Location"] == "/alice/model/discussions/1"
    page = signed_in(bob).get("/alice/model/discussions/1").content.decode()
    assert "Hello" in page and "<em>post</em>" in page and 'data-testid="comment-form"' in page
    refused = signed_in(bob).post(
        "/alice/model/discussions/new", {"type": "discussion", "title": "", "description": "x"}
    )
    assert refused.status_code == 400 and Discussion.objects.count() == 1


def test_pull_request_form_diff_page_and_merge(model, alice, bob):
    upload = SimpleUploadedFile("notes.txt", b"one\ntwo\nthree\nfour\n")
    response = signed_in(bob).post(
        "/alice/model/discussions/new",
        {"type": "pull_request", "title": "More notes", "description": "A line", "files": [upload]},
    )
    assert response["Location"] == "/alice/model/discussions/1"
    pr = Discussion.objects.get(num=1)
    assert pr.is_pull_request and pr.status == "open" and pr.events.filter(type="commit").count() == 1
    files = Client().get("/alice/model/discussions/1/files").content.decode()
    assert (
        '<span class="add">+four</span>' in files and '<span class="file">diff --git a/notes.txt b/notes.txt' in files
    )

    assert b"merge-pr" not in signed_in(bob).get("/alice/model/discussions/1").content
    signed_in(bob).post("/alice/model/discussions/1", {"action": "merge"})
    assert Discussion.objects.get(num=1).status == "open"
    signed_in(alice).post("/alice/model/discussions/1", {"action": "merge"})
    pr.refresh_from_db()
    assert pr.status == "merged"
    merged = read_text_at(resolve_revision(model, "main").tree_oid, "notes.txt", repo_pk=model.pk)
    assert merged == "one\ntwo\nthree\nfour\n"
    assert b'data-testid="merged-notice"' in Client().get("/alice/model/discussions/1").content


def test_empty_pull_request_is_a_draft_until_published(model, bob):
    signed_in(bob).post("/alice/model/discussions/new", {"type": "pull_request", "title": "WIP", "description": "."})
    pr = Discussion.objects.get(num=1)
    assert pr.status == "draft"
    push(model, pr, {"x.txt": b"x\n"}, author=bob)
    signed_in(bob).post("/alice/model/discussions/1", {"action": "publish"})
    assert Discussion.objects.get(num=1).status == "open"


def test_thread_actions_are_checked(model, alice, bob):
    carol = UserFactory(username="carol")
    thread = services.discussion_create(repo=model, author=bob, title="Thread", description="Opening")
    opening = thread.events.get()
    url = "/alice/model/discussions/1"
    signed_in(carol).post(url, {"action": "close"})  # not the author, not a maintainer
    signed_in(carol).post(url, {"action": "pin"})
    signed_in(carol).post(url, {"action": "edit-comment", "comment_id": opening.public_id, "content": "hijacked"})
    thread.refresh_from_db()
    opening.refresh_from_db()
    assert (thread.status, thread.is_pinned, opening.raw) == ("open", False, "Opening")

    signed_in(bob).post(url, {"action": "edit-comment", "comment_id": opening.public_id, "content": "Opening, v2"})
    signed_in(bob).post(url, {"action": "rename", "title": "Renamed thread"})
    signed_in(bob).post(url, {"action": "close"})
    signed_in(alice).post(url, {"action": "pin"})
    signed_in(alice).post(url, {"action": "lock"})
    signed_in(carol).post(url, {"action": "comment", "comment": "can I?"})
    signed_in(carol).post(url, {"action": "report", "comment_id": opening.public_id, "reason": "rude"})
    signed_in(alice).post(url, {"action": "hide-comment", "comment_id": opening.public_id})
    thread.refresh_from_db()
    opening.refresh_from_db()
    assert (thread.title, thread.status, thread.is_pinned, thread.is_locked) == ("Renamed thread", "closed", True, True)
    assert opening.raw == "Opening, v2" and opening.is_hidden
    assert not thread.events.filter(raw="can I?").exists()
    assert Report.objects.get().reason == "rude"
    moderation = signed_in(alice).get("/alice/model/discussions").content.decode()
    assert "rude" in moderation and "rude" not in signed_in(carol).get("/alice/model/discussions").content.decode()


def test_watch_and_switch(model, alice, bob):
    signed_in(bob).post("/alice/model/discussions", {"action": "watch"})
    assert Watch.objects.filter(user=bob, repo=model).exists()
    signed_in(bob).post("/alice/model/discussions", {"action": "disable"})
    assert Client().get("/alice/model/discussions").content.count(b"discussions-disabled") == 0
    signed_in(alice).post("/alice/model/discussions", {"action": "disable"})
    assert b"discussions-disabled" in Client().get("/alice/model/discussions").content
    assert signed_in(bob).get("/alice/model/discussions/new").status_code == 403


def test_gated_diff_page_needs_download_access(model, alice, bob):
    Repo.objects.filter(pk=model.pk).update(gated="manual")
    model.refresh_from_db()
    pr = services.pull_request_open(repo=model, author=alice, title="Change", description=".")
    push(model, pr, {"config.json": b'{"hidden": 32}\n'}, author=alice)
    stranger_view = signed_in(bob).get("/alice/model/discussions/1/files").content
    # (the word alone is in every form's CSRF input: look for the file's text)
    assert b"diff-withheld" in stranger_view and b"&quot;hidden&quot;" not in stranger_view
    assert b"+{&quot;hidden&quot;: 32}" in signed_in(alice).get("/alice/model/discussions/1/files").content


def test_pull_request_form_refuses_files_over_the_limits_and_keeps_the_form(model, bob, settings):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 1536
    refusals = {
        "accepts files up to 1.0 KiB (1024 bytes)": [os.urandom(1025)],
        "the most one commit may add": [os.urandom(1000), os.urandom(1000)],
    }
    for refusal, contents in refusals.items():
        response = signed_in(bob).post(
            "/alice/model/discussions/new",
            {
                "type": "pull_request",
                "title": "Bigger weights",
                "description": "Retrained",
                "summary": "Add weights",
                "directory": "unet",
                "files": [SimpleUploadedFile(f"w{n}.bin", c) for n, c in enumerate(contents)],
            },
        )
        assert response.status_code == 413
        page = response.content.decode()
        assert refusal in page
        assert 'value="Bigger weights"' in page and ">Retrained</textarea>" in page
        assert 'value="Add weights"' in page and 'value="unet"' in page
        assert not any(get_storage().exists(hashlib.sha256(content).hexdigest()) for content in contents)
    assert not Discussion.objects.exists()
    assert not Ref.objects.filter(repo=model, name__startswith="refs/pr/").exists()
