"""Browser: open a discussion, comment and close it; open a pull request with a file, read its
diff and merge it."""

import pytest

from community.models import Discussion
from registry.selectors import read_text_at, resolve_revision
from tests.support.builders import PASSWORD, UserFactory, commit_files, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")


@pytest.fixture
def published(db):
    owner = UserFactory(username="olga")
    repo = make_repo(owner, "painter")
    commit_files(repo, {"README.md": b"# Painter\n", "notes.txt": b"one\n"}, author=owner, summary="Initial")
    return repo


def test_open_comment_and_close_a_discussion(page, live_server, published):
    UserFactory(username="erin")
    _log_in(page, live_server, "erin")
    page.goto(f"{live_server.url}/olga/painter")
    page.get_by_test_id("community-tab").click()
    page.get_by_test_id("new-discussion").click()
    page.get_by_test_id("thread-title").fill("Colours look washed out")
    page.get_by_test_id("thread-description").fill("Steps: run the **default** pipeline.")
    page.get_by_test_id("submit-thread").click()
    page.wait_for_url(f"{live_server.url}/olga/painter/discussions/1")
    assert page.get_by_test_id("thread-heading").inner_text() == "Colours look washed out"
    assert page.get_by_test_id("comment-body").first.locator("strong").inner_text() == "default"

    page.get_by_test_id("comment-input").fill('Same with a `fixed seed`. <img src=x onerror="window.__pwned = true">')
    page.get_by_test_id("post-comment").click()
    assert page.get_by_test_id("comment-body").nth(1).locator("code").inner_text() == "fixed seed"
    assert page.evaluate("window.__pwned") is None  # the handler never ran

    page.get_by_test_id("close-thread").click()
    assert page.get_by_test_id("thread-status").inner_text() == "closed"
    assert page.get_by_test_id("status-event").is_visible()
    page.get_by_test_id("community-tab").click()
    assert "Colours look washed out" not in page.get_by_test_id("thread-list").inner_text()  # open ones only
    assert Discussion.objects.get(num=1).status == "closed"


def test_open_and_merge_a_pull_request(page, live_server, published, tmp_path):
    _log_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/olga/painter/discussions")
    page.get_by_test_id("new-pull-request").click()
    page.get_by_test_id("thread-title").fill("Add a second note")
    page.get_by_test_id("thread-description").fill("Adds a line to the notes.")
    notes = tmp_path / "notes.txt"
    notes.write_text("one\ntwo\n")
    page.get_by_test_id("pr-files").set_input_files(str(notes))
    page.get_by_test_id("pr-summary").fill("Second note")
    page.get_by_test_id("submit-thread").click()
    page.wait_for_url(f"{live_server.url}/olga/painter/discussions/1")
    assert page.get_by_test_id("thread-status").inner_text() == "open"
    assert "Second note" in page.get_by_test_id("commit-event").inner_text()

    page.get_by_test_id("files-changed").click()
    diff = page.get_by_test_id("diff")
    assert diff.locator(".add").inner_text() == "+two"
    assert diff.locator(".file").inner_text() == "diff --git a/notes.txt b/notes.txt"
    page.go_back()

    page.get_by_test_id("merge-pr").click()
    assert page.get_by_test_id("thread-status").inner_text() == "merged"
    assert page.get_by_test_id("merged-notice").is_visible()
    repo = published
    assert read_text_at(resolve_revision(repo, "main").tree_oid, "notes.txt", repo_pk=repo.pk) == "one\ntwo\n"
