"""Browser: create a repo, upload a file, edit the card, see the new commit."""

import pytest

from registry.models import Repo
from tests.support.builders import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_upload_edit_card_history(page, live_server, tmp_path):
    UserFactory(username="erin")
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")

    page.goto(f"{live_server.url}/new")
    page.fill("input[name=name]", "painter")
    page.click("button:has-text('Create repository')")
    page.wait_for_url(f"{live_server.url}/erin/painter")

    page.get_by_test_id("add-files").click()
    weights = tmp_path / "notes.txt"
    weights.write_text("hello from the browser")
    page.get_by_test_id("upload-files").set_input_files(str(weights))
    page.get_by_test_id("commit-summary").fill("Add notes from the browser")
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{live_server.url}/erin/painter/tree/main")  # the upload script commits, then goes there
    assert page.get_by_test_id("file-list").get_by_text("notes.txt").is_visible()

    page.goto(f"{live_server.url}/erin/painter")
    page.get_by_test_id("edit-card").click()
    page.get_by_test_id("card-editor").fill("---\nlicense: apache-2.0\n---\n# Painter\n\nDraws things.\n")
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{live_server.url}/erin/painter")
    assert page.get_by_test_id("model-card").locator("h1").inner_text() == "Painter"

    page.get_by_role("link", name="History").click()
    commits = page.get_by_test_id("commit-list")
    assert commits.locator("li .title").first.inner_text() == "Update README.md"
    assert commits.get_by_text("Add notes from the browser").is_visible()
    assert Repo.objects.get(name="painter").license == "apache-2.0"
