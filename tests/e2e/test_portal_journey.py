"""Browser: sign up, create a token, open a repo page, see the rendered card and the file list."""

import pytest
from huggingface_hub import HfApi

from accounts.models import AccessToken
from tests.support.builders import UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD = b"""---
license: mit
pipeline_tag: text-to-image
---
# Tiny diffusion model

**Bold claim** and a table:

| a | b |
|---|---|
| 1 | 2 |

<script>window.__pwned = true</script>
<img src=x onerror="window.__pwned = true">
"""


def test_signup_token_repo_page(page, live_server, hf_cache):
    publisher = UserFactory(username="acme")
    make_repo(publisher, "tiny-sd", {"README.md": CARD, "unet/config.json": b"{}", "model.safetensors": b"\0" * 64})

    page.goto(f"{live_server.url}/signup")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=email]", "dora@example.org")
    page.fill("input[name=password]", "a-long-enough-passphrase")
    page.click("button:has-text('Sign up')")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("me").inner_text() == "dora"

    page.goto(f"{live_server.url}/settings/tokens")
    page.fill("input[name=name]", "laptop")
    page.select_option("select[name=role]", "read")
    page.click("button:has-text('Create token')")
    token = page.get_by_test_id("token-value").inner_text().strip()
    assert AccessToken.objects.get(user__username="dora").name == "laptop"
    assert HfApi(token=token).whoami()["name"] == "dora"
    page.goto(f"{live_server.url}/settings/tokens")
    assert page.get_by_test_id("new-token").count() == 0  # shown once only
    assert token not in page.content()

    page.goto(f"{live_server.url}/acme/tiny-sd")
    card = page.get_by_test_id("model-card")
    assert card.locator("h1").inner_text() == "Tiny diffusion model"
    assert card.locator("strong").inner_text() == "Bold claim"
    assert card.locator("table td").first.inner_text() == "1"
    assert page.evaluate("window.__pwned === undefined")
    files = page.get_by_test_id("file-list")
    assert files.get_by_text("model.safetensors").is_visible()
    assert files.get_by_text("unet").is_visible()
    page.get_by_role("link", name="Files and versions").click()
    page.get_by_role("link", name="📁 unet").click()
    assert page.get_by_test_id("file-list").get_by_text("config.json").is_visible()
