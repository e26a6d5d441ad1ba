"""The catalogue: the Hub's 83 license ids, their flags, texts and summaries, synced idempotently."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from licenses import catalogue_data, texts
from licenses.models import License
from licenses.services import catalogue_sync

# shared/ lies beside the checkout (CI, main) or beside the worktrees' folder.
REFERENCES = [Path(settings.BASE_DIR).parents[n] / "shared" / "reference" / "hub-licenses.md" for n in (0, 1)]
RAIL = [
    "openrail",
    "bigscience-openrail-m",
    "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m",
    "openrail++",
]


def test_the_catalogue_has_the_hubs_83_ids_in_order():
    ids = [entry.id for entry in catalogue_data.ENTRIES]
    assert len(ids) == len(set(ids)) == 83
    assert ids[:3] == ["apache-2.0", "mit", "openrail"] and ids[-2:] == ["unknown", "other"]
    reference = next((path for path in REFERENCES if path.exists()), None)
    if reference is None:
        pytest.skip("shared/reference is not beside this checkout")
    listed = re.findall(r"^\| `([^`]+)` \|", reference.read_text(), re.MULTILINE)
    assert ids == listed


def test_every_packaged_text_exists_and_summaries_are_short():
    for entry in catalogue_data.ENTRIES:
        assert 20 < len(entry.summary) < 400, entry.id
        assert entry.link.startswith("https://"), entry.id
        if entry.text_key:
            text = texts.packaged_text(entry.text_key)
            assert text is not None and len(text) > 400, entry.id
    assert "CreativeML Open RAIL-M" in texts.packaged_text("stable-diffusion-2022-08-22")
    assert texts.packaged_text("../../etc/passwd") is None and texts.packaged_text("no-such-key") is None


@pytest.mark.django_db
def test_sync_is_idempotent_and_restores_edits():
    assert License.objects.count() == 83  # synced after migrate
    assert catalogue_sync() == 0
    License.objects.filter(pk="mit").update(name="tampered", has_use_restrictions=True)
    License.objects.filter(pk="gemma").delete()
    assert catalogue_sync() == 2
    assert License.objects.get(pk="mit").name == "MIT" and License.objects.count() == 83
    assert catalogue_sync() == 0


@pytest.mark.django_db
def test_flags_rail_by_default_vendor_restricted_and_restriction_groups():
    required = set(License.objects.filter(requires_acknowledgment=True).values_list("id", flat=True))
    assert required == set(RAIL)
    restricted = set(License.objects.filter(has_use_restrictions=True).values_list("id", flat=True))
    assert restricted == set(RAIL) | catalogue_data.VENDOR_RESTRICTED
    rows = {row.id: row for row in License.objects.all()}
    assert rows["bigcode-openrail-m"].carries_restrictions_of(rows["creativeml-openrail-m"])
    assert not rows["mit"].carries_restrictions_of(rows["openrail"])
    assert not rows["llama3"].carries_restrictions_of(rows["llama2"])
    assert rows["mit"].carries_restrictions_of(rows["apache-2.0"])


@pytest.mark.django_db
def test_catalogue_api_and_pages(client):
    items = client.get("/api/licenses").json()
    assert len(items) == 83 and items[0]["id"] == "apache-2.0" and "text" not in items[0]
    rail = client.get("/api/licenses/creativeml-openrail-m").json()
    assert rail["hasUseRestrictions"] and rail["requiresAcknowledgment"] and "Section I: PREAMBLE" in rail["text"]
    assert client.get("/api/licenses/llama3.1").json()["text"] is None
    assert client.get("/api/licenses/openrail++").status_code == 200
    assert client.get("/api/licenses/nope").status_code == 404
    page = client.get("/licenses").content.decode()
    assert page.count("<tr>") == 84 and "not legal advice" in page
    entry = client.get("/licenses/apache-2.0").content.decode()
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in entry and "In short:" in entry
    assert client.get("/licenses/nope").status_code == 404
