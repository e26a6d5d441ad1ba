"""The main gating journey in a real browser: a user asks for access, a reviewer approves in
the queue, the user downloads the weights."""

import pytest

from gating.models import AccessRequest
from registry.services import repo_settings_update
from tests.support.builders import PASSWORD, UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD = b"""---
extra_gated_prompt: Please tell us who you are.
extra_gated_fields:
  Company: text
  Country: country
  I agree to the terms: checkbox
---
# Gated tiny model
"""
WEIGHTS = b"tiny-weights-" * 100


@pytest.fixture(autouse=True)
def _eager_tasks():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def log_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button")
    page.wait_for_selector("[data-testid=me]")


def test_request_approve_download(live_server, browser, mailoutbox):
    owner, user = UserFactory(username="rita"), UserFactory(username="uma")
    repo = make_repo(owner, "tiny", {"README.md": CARD, "model.safetensors": WEIGHTS})
    repo_settings_update(repo=repo, gated="manual")
    base = live_server.url

    requester = browser.new_context(accept_downloads=True).new_page()
    log_in(requester, base, "uma")
    requester.goto(f"{base}/rita/tiny")
    requester.click("[data-testid=ask-link]")
    requester.fill("input[name=field_0]", "Initech")
    requester.select_option("select[name=field_1]", "FR")
    requester.check("input[name=field_2]")
    requester.click("[data-testid=ask-submit]")
    assert "awaiting review" in requester.inner_text("[data-testid=access-state]")
    assert AccessRequest.objects.get(user=user).status == "pending"

    reviewer = browser.new_context().new_page()
    log_in(reviewer, base, "rita")
    reviewer.goto(f"{base}/rita/tiny")
    reviewer.click("[data-testid=queue-link]")
    row = reviewer.locator("[data-testid=request-uma]")
    assert "Initech" in row.inner_text()
    row.locator("input[type=checkbox]").check()
    reviewer.select_option("[data-testid=decision]", "accepted")
    reviewer.click("[data-testid=decide]")
    reviewer.wait_for_selector(".messages .success")
    assert AccessRequest.objects.get(user=user).status == "accepted"

    requester.goto(f"{base}/rita/tiny/blob/main/model.safetensors")
    with requester.expect_download() as download_info:
        requester.click("a.button[download]")
    with open(download_info.value.path(), "rb") as handle:
        assert handle.read() == WEIGHTS
    assert [mail.to for mail in mailoutbox] == [["rita@example.org"], ["uma@example.org"]]
