"""The repo settings page (/{repo}/settings): admins rename, transfer, delete (typing the id),
switch discussions and previews, and read the storage used; everyone else is refused as for any
admin page, and nothing changes."""

import re

import pytest
from django.test import Client

from community.models import CommunitySettings
from registry.models import Repo
from tests.support.builders import OrganizationFactory, add_member, make_repo, token_for
from workers.models import PreviewSettings

pytestmark = pytest.mark.django_db


def test_admin_sees_storage_and_every_section(client, alice):
    repo = make_repo(alice, "m", {"weights.bin": b"\1" * 5000})
    client.force_login(alice)
    page = client.get("/alice/m/settings")
    assert page.status_code == 200 and "private" in page["Cache-Control"]
    html = page.content.decode()
    for testid in ("move-form", "delete-form", "discussions-form", "settings-previews-form", "storage-usage"):
        assert f'data-testid="{testid}"' in html, testid
    assert 'data-testid="settings-tab"' in html
    from registry.storage.usage import repo_storage_usage

    total = repo_storage_usage(repo).total
    assert total >= 5000
    from django.template.defaultfilters import filesizeformat

    assert f'data-testid="storage-total">{filesizeformat(total)}<' in html


def test_non_admins_are_refused_and_nothing_changes(client, alice, bob):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "admin")
    add_member(org, bob, "write")
    make_repo(org, "m", author=alice)
    make_repo(alice, "secret", private=True)
    client.force_login(bob)
    assert client.get("/acme/m/settings").status_code == 403  # a writer, not an admin
    assert client.post("/acme/m/settings", {"action": "delete", "confirm": "acme/m"}).status_code == 403
    assert client.post("/acme/m/settings", {"action": "move", "namespace": "acme", "name": "x"}).status_code == 403
    assert client.post("/acme/m/settings", {"action": "disable-discussions"}).status_code == 403
    missing = client.get("/alice/secret/settings")
    assert missing.status_code == 404 and b"secret" not in missing.content.replace(b"/alice/secret/settings", b"")
    csrf = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    same = [csrf.sub(b"", client.get(f"/alice/{name}/settings").content) for name in ("secret", "nothing-here")]
    assert same[0] == same[1]  # private looks exactly like missing
    anonymous = Client().post("/acme/m/settings", {"action": "delete", "confirm": "acme/m"})
    assert anonymous.status_code == Client().get("/acme/m/gating").status_code  # as any admin page
    assert Repo.objects.filter(namespace="acme", name="m", deleted_at__isnull=True).exists()
    assert not CommunitySettings.objects.exists()


def test_rename_redirects_old_urls(client, alice):
    make_repo(alice, "old", {"config.json": b"{}"})
    client.force_login(alice)
    moved = client.post("/alice/old/settings", {"action": "move", "namespace": "alice", "name": "new"})
    assert moved.status_code == 302 and moved["Location"] == "/alice/new/settings"
    assert Repo.objects.get().repo_id == "alice/new"
    page = client.get("/alice/old/tree/main")
    assert page.status_code in (301, 302, 307, 308) and page["Location"].startswith("/alice/new/tree/main")
    download = Client().get("/alice/old/resolve/main/config.json")
    assert download.status_code in (301, 302, 307, 308)
    assert "/alice/new/resolve/main/config.json" in download["Location"]


def test_transfer_needs_the_right_to_create_in_the_target(client, alice, bob):
    make_repo(alice, "m")
    mine, theirs = OrganizationFactory(name="mine"), OrganizationFactory(name="theirs")
    add_member(mine, alice, "write")
    add_member(theirs, alice, "read")
    add_member(theirs, bob, "admin")
    client.force_login(alice)
    refused = client.post("/alice/m/settings", {"action": "move", "namespace": "theirs", "name": "m"}, follow=True)
    assert b"rights to create a repo under the namespace" in refused.content
    assert Repo.objects.get().repo_id == "alice/m"
    bad = client.post("/alice/m/settings", {"action": "move", "namespace": "alice", "name": "bad/name"}, follow=True)
    assert b"Invalid repo id" in bad.content and Repo.objects.get().repo_id == "alice/m"
    moved = client.post("/alice/m/settings", {"action": "move", "namespace": "MINE", "name": "m"})
    assert moved["Location"] == "/mine/m/settings"
    repo = Repo.objects.get()
    assert repo.repo_id == "mine/m" and repo.owner_org.name == "mine" and repo.owner_user is None


def test_delete_needs_the_repo_id_typed(client, alice):
    make_repo(alice, "m")
    client.force_login(alice)
    for wrong in ("", "m", "alice/m2", "alice/"):
        page = client.post("/alice/m/settings", {"action": "delete", "confirm": wrong}, follow=True)
        assert b"Type alice/m to confirm the deletion." in page.content
        assert Repo.objects.get().deleted_at is None
    gone = client.post("/alice/m/settings", {"action": "delete", "confirm": " ALICE/m "})
    assert gone.status_code == 302 and gone["Location"] == "/"
    assert Repo.objects.get().deleted_at is not None
    assert client.get("/alice/m").status_code == 404


def test_discussions_switch_is_enforced_on_the_api(client, alice, bob, live_server):
    make_repo(alice, "m")
    client.force_login(alice)
    client.post("/alice/m/settings", {"action": "disable-discussions"})
    assert CommunitySettings.objects.get().discussions_disabled
    assert b'data-testid="settings-discussions-off"' in client.get("/alice/m/settings").content
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=live_server.url, token=token_for(bob))
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_discussion("alice/m", title="hello")
    assert refused.value.response.status_code == 403
    client.post("/alice/m/settings", {"action": "enable-discussions"})
    assert api.create_discussion("alice/m", title="hello").num == 1


def test_preview_settings_from_the_settings_page(client, alice):
    make_repo(alice, "m")
    client.force_login(alice)
    client.post("/alice/m/settings", {"action": "previews", "enabled": "on", "sld_preset": "strong"})
    row = PreviewSettings.objects.get()
    assert row.enabled and row.sld_preset == "strong"
    bad = client.post("/alice/m/settings", {"action": "previews", "sld_preset": "nope"}, follow=True)
    assert b"must be one of" in bad.content
    row.refresh_from_db()
    assert row.enabled and row.sld_preset == "strong"
    unknown = client.post("/alice/m/settings", {"action": "explode"}, follow=True)
    assert b"Unknown action." in unknown.content


def test_datasets_have_no_previews_section_and_forms_need_csrf(alice):
    make_repo(alice, "d", repo_type="dataset")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    page = strict.get("/datasets/alice/d/settings")
    assert page.status_code == 200 and b"settings-previews-form" not in page.content
    assert strict.post("/datasets/alice/d/settings", {"action": "delete", "confirm": "alice/d"}).status_code == 403
    assert Repo.objects.get().deleted_at is None
