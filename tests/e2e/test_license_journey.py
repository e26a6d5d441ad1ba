"""Browser: a user reads a RAIL license from the repo page, accepts it, and downloads a file."""

import pytest

from licenses.models import Acknowledgment
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import PASSWORD, UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_read_accept_download(page, live_server):
    publisher = UserFactory(username="acme")
    make_repo(publisher, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": b'{"hidden": 8}'})
    UserFactory(username="dora")
    file_url = f"{live_server.url}/acme/rail/resolve/main/config.json"

    page.goto(f"{live_server.url}/login?next=/acme/rail")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{live_server.url}/acme/rail")
    assert page.get_by_test_id("license-badge").inner_text() == "creativeml-openrail-m"
    refused = page.request.get(file_url)
    assert refused.status == 403 and "accept" in refused.json()["error"]

    page.get_by_test_id("read-license").click()
    page.wait_for_url(f"{live_server.url}/acme/rail/license")
    assert "Version one of the terms" in page.get_by_test_id("license-text").inner_text()
    assert "not legal advice" in page.get_by_test_id("license-summary").inner_text()
    page.get_by_test_id("accept-license").click()
    assert page.get_by_test_id("license-accepted").is_visible()
    assert Acknowledgment.objects.get().source == "web"

    page.get_by_test_id("license-accepted").get_by_role("link", name="download the files").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download config.json").click()
    with open(download_info.value.path(), "rb") as handle:
        assert handle.read() == b'{"hidden": 8}'
