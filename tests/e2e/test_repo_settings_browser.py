"""Browser: an admin renames a repo on its settings page (the old address redirects), then
deletes it by typing its id."""

import pytest

from registry.models import Repo
from tests.e2e.test_gating_journey import _login
from tests.support.builders import UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rename_then_delete(page, live_server):
    owner = UserFactory(username="olive")
    make_repo(owner, "painter", {"config.json": b"{}"})
    base = live_server.url
    _login(page, base, "olive")
    page.goto(f"{base}/olive/painter")
    page.get_by_test_id("settings-tab").click()
    page.get_by_test_id("move-name").fill("painter-v2")
    page.click("button:has-text('Rename or transfer')")
    page.wait_for_url(f"{base}/olive/painter-v2/settings")
    page.goto(f"{base}/olive/painter/tree/main")
    assert page.url == f"{base}/olive/painter-v2/tree/main"

    page.goto(f"{base}/olive/painter-v2/settings")
    page.get_by_test_id("delete-confirm").fill("olive/painter")  # the old id does not confirm
    page.get_by_test_id("delete-button").click()
    assert "Type olive/painter-v2 to confirm" in page.content()
    assert Repo.objects.get().deleted_at is None
    page.get_by_test_id("delete-confirm").fill("olive/painter-v2")
    page.get_by_test_id("delete-button").click()
    page.wait_for_url(f"{base}/")
    assert Repo.objects.get().deleted_at is not None
