"""Browser journeys: type a prompt and see the image; a blocked prompt shows the blocked notice.

With Redis the image comes from a real worker process; without it the task runs eagerly inside
the live server, so the journey is still covered on a bare machine.
"""

import os

import pytest
from django.test import Client
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def previews_backend(request, settings):
    """A real worker when the services exist; otherwise run tasks eagerly in the live server."""
    if os.environ.get("REDIS_URL"):
        request.getfixturevalue("celery_worker")
        request.getfixturevalue("e2e_settings")
        yield "worker"
        return
    from config.celery import app

    request.getfixturevalue("preview_settings")
    request.getfixturevalue("fresh_engine")
    app.conf.task_always_eager = True
    yield "eager"
    app.conf.task_always_eager = False


@pytest.fixture
def signed_in_page(page, live_server, alice):
    client = Client()
    client.force_login(alice)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return page


def submit_prompt(page, base_url: str, prompt: str) -> None:
    page.goto(f"{base_url}/alice/tiny-sd")
    page.get_by_test_id("preview-prompt").fill(prompt)
    page.get_by_test_id("preview-submit").click()


def test_type_a_prompt_and_see_the_image(signed_in_page, live_server, sd_repo, previews_backend):
    page = signed_in_page
    submit_prompt(page, live_server.url, "a watercolor lighthouse")
    image = page.get_by_test_id("preview-image")
    expect(image).to_be_visible(timeout=90_000)
    page.wait_for_function("document.querySelector('[data-testid=preview-image]').naturalWidth > 0")
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 64]
    expect(page.get_by_test_id("preview-status")).to_contain_text("Done")
    expect(page.get_by_test_id("preview-blocked")).to_be_hidden()
    page.goto(f"{live_server.url}/alice/tiny-sd/previews")
    expect(page.get_by_test_id("preview-history")).to_contain_text("a watercolor lighthouse")


def test_blocked_prompt_shows_the_blocked_notice(signed_in_page, live_server, sd_repo, preview_settings):
    page = signed_in_page
    submit_prompt(page, live_server.url, "a nude statue")
    notice = page.get_by_test_id("preview-blocked")
    expect(notice).to_be_visible(timeout=10_000)
    expect(notice).to_contain_text("prompt screening")
    expect(notice).to_contain_text("sexual")
    expect(page.get_by_test_id("preview-image")).to_be_hidden()
