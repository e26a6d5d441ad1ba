"""Portal pages: the widget on the repo page, the no-JavaScript form, history, safety settings."""

import pytest
from django.test import Client

from tests.support.builders import make_repo
from workers.models import PreviewJob, PreviewRequest, PreviewSettings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings")]


def widget(client, path="/alice/tiny-sd") -> str:
    html = client.get(path).content.decode()
    start = html.find('data-testid="preview-widget"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def test_widget_states(client, alice, bob, sd_repo, settings):
    assert "Sign in to try this model" in widget(client)
    client.force_login(bob)
    html = widget(client)
    assert 'data-testid="preview-prompt"' in html and "previews.js" in html and "Safety settings" not in html
    sd_repo.gated = "manual"
    sd_repo.save(update_fields=["gated"])
    assert "for approved users: request access first" in widget(client)
    client.force_login(alice)
    assert "Safety settings" in widget(client)
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = ""
    assert "not configured a safety checker" in widget(client)
    make_repo(alice, "bert", {"config.json": b"{}"})
    assert widget(client, "/alice/bert") == ""  # not a diffusers pipeline: no widget at all


def test_form_without_javascript_creates_and_redirects(client, alice, sd_repo):
    client.force_login(alice)
    response = client.post("/alice/tiny-sd/previews", {"prompt": "a cat", "seed": "3", "num_inference_steps": "2"})
    request = PreviewRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/alice/tiny-sd/previews/{request.pk}"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Queued" in page.content and b'http-equiv="refresh"' in page.content
    assert b"data-preview-poll" in page.content and page["Cache-Control"] == "private, no-store"
    history = client.get("/alice/tiny-sd/previews")
    assert b"a cat" in history.content

    response = client.post("/alice/tiny-sd/previews", {"prompt": "a cat", "num_inference_steps": "many"})
    assert response.status_code == 302 and response["Location"] == "/alice/tiny-sd"
    assert b"must be an integer" in client.get("/alice/tiny-sd").content
    assert PreviewJob.objects.count() == 1


def test_portal_posts_need_the_csrf_token(alice, sd_repo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/alice/tiny-sd/previews", {"prompt": "a cat"}).status_code == 403
    assert client.post("/alice/tiny-sd/previews/settings", {"sld_preset": "off"}).status_code == 403
    api = client.post("/api/models/alice/tiny-sd/previews", {"prompt": "a cat"}, "application/json")
    assert api.status_code == 403  # session-authenticated API calls need the token too
    assert PreviewJob.objects.count() == 0


def test_authors_change_safety_settings_and_see_verdicts(client, alice, sd_repo):
    client.force_login(alice)
    client.post("/alice/tiny-sd/previews", {"prompt": "a nude statue"})
    page = client.get("/alice/tiny-sd/previews/settings")
    assert page.status_code == 200 and b"Prompt screening" in page.content and b"a nude statue" in page.content
    form = {"enabled": "on", "sld_preset": "strong", "extra_blocked_concepts": "brands: acme"}
    assert client.post("/alice/tiny-sd/previews/settings", form).status_code == 302
    row = PreviewSettings.objects.get(repo=sd_repo)
    assert (row.enabled, row.sld_preset, row.extra_blocked_concepts) == (True, "strong", "brands: acme")
    client.post("/alice/tiny-sd/previews/settings", {"sld_preset": "strong"})  # checkbox unticked: off
    assert PreviewSettings.objects.get(repo=sd_repo).enabled is False
    assert "turned previews off" in widget(client)
