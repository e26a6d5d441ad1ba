"""Browser: a user requests access, a reviewer approves it in the queue, the user downloads."""

import pytest

from registry import services
from tests.gating.conftest import GATED_CARD
from tests.support.builders import PASSWORD, UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")


def test_request_approve_download(browser, live_server):
    owner, requester = UserFactory(username="olive"), UserFactory(username="ravi")
    repo = make_repo(owner, "painter", {"README.md": GATED_CARD, "config.json": b'{"weights": "secret"}'})
    services.repo_settings_update(repo=repo, gated="manual")
    base = live_server.url

    user_page = browser.new_context(accept_downloads=True).new_page()
    _login(user_page, base, "ravi")
    user_page.goto(f"{base}/olive/painter")
    user_page.get_by_test_id("ask-access").click()
    user_page.fill("input[name=field_0]", "Ravi Labs")
    user_page.fill("input[name=field_1]", "IN")
    user_page.select_option("select[name=field_2]", "business")
    user_page.check("input[name=field_3]")
    user_page.get_by_test_id("submit-request").click()
    assert "pending review" in user_page.get_by_test_id("access-state").inner_text()

    reviewer_page = browser.new_context().new_page()
    _login(reviewer_page, base, "olive")
    reviewer_page.goto(f"{base}/olive/painter")
    reviewer_page.get_by_test_id("access-tab").click()
    row = reviewer_page.get_by_test_id("request-ravi")
    assert "Ravi Labs" in row.inner_text()
    row.locator("input[type=checkbox]").check()
    reviewer_page.get_by_test_id("bulk-accept").click()
    assert "1 request(s) updated" in reviewer_page.content()

    user_page.goto(f"{base}/olive/painter/blob/main/config.json")
    with user_page.expect_download() as info:
        user_page.get_by_role("link", name="Download").click()
    assert open(info.value.path(), "rb").read() == b'{"weights": "secret"}'  # noqa: SIM115
    assert requester.access_requests.get().status == "accepted"
