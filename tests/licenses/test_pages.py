"""Portal: license badges link to the repo's license page; pages say what the license asks for."""

import pytest

from licenses.selectors import license_at
from licenses.services import acknowledgment_record
from registry.selectors import resolve_revision

pytestmark = pytest.mark.django_db


def test_badges_on_repo_pages_and_search_results_link_to_the_license(client, rail_repo):
    repo_page = client.get("/alice/rail").content.decode()
    assert 'href="/alice/rail/license" data-testid="license-badge">creativeml-openrail-m</a>' in repo_page
    assert 'data-testid="license-box"' in repo_page and 'data-testid="read-license"' in repo_page
    results = client.get("/models?search=rail").content.decode()
    assert '<a class="badge license" href="/alice/rail/license">creativeml-openrail-m</a>' in results


def test_file_pages_hold_content_back_until_the_license_is_accepted(client, rail_repo, bob):
    client.force_login(bob)
    blob = client.get("/alice/rail/blob/main/config.json").content.decode()
    assert "requires accepting its license CreativeML OpenRAIL-M" in blob and "&quot;hidden&quot;" not in blob
    version = license_at(rail_repo, resolve_revision(rail_repo, "main")).version
    acknowledgment_record(user=bob, repo=rail_repo, version=version)
    blob = client.get("/alice/rail/blob/main/config.json").content.decode()
    assert "&quot;hidden&quot;: 8" in blob
    assert 'data-testid="license-box-accepted"' in client.get("/alice/rail").content.decode()
    mine = client.get("/settings/licenses").content.decode()
    assert "alice/rail" in mine and version[:12] in mine


def test_license_page_of_a_repo_without_license_text_links_to_the_source(client, alice):
    from tests.support.builders import make_repo

    make_repo(alice, "llama", {"README.md": b"---\nlicense: llama3\n---\n"})
    card = b"---\nlicense: other\nlicense_name: acme-1.0\nlicense_link: LICENSE.md\n---\n"
    make_repo(alice, "custom", {"README.md": card, "LICENSE.md": b"ACME terms\n"})
    llama = client.get("/alice/llama/license").content.decode()
    assert "is not available on this hub. Read it at https://llama.meta.com/llama3/license/" in llama
    custom = client.get("/api/models/alice/custom/license").json()
    assert custom["name"] == "acme-1.0" and custom["text"] == "ACME terms\n"
    assert custom["location"].startswith("LICENSE.md@") and custom["requiresAcknowledgment"] is False
