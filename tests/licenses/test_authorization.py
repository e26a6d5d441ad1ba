"""Authorization matrix of the download path and the license routes on a gated, RAIL-licensed
org repo: anonymous, stranger, pending requester, approved without acknowledgment, approved and
acknowledged, collaborator, owner. Refusals send no bytes and count no download."""

import pytest
from django.test import Client

from accounts.models import Role
from gating import services as gating
from licenses.models import Acknowledgment
from licenses.selectors import license_at
from licenses.services import acknowledgment_record
from registry.models import Repo
from registry.selectors import resolve_revision
from registry.services import repo_settings_update
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db

FILE = "/acme/rail/resolve/main/config.json"


@pytest.fixture
def world(alice):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, Role.ADMIN)
    repo = make_repo(org, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": b'{"secret": 1}'})
    repo_settings_update(repo=repo, gated="manual", actor=alice)
    repo.refresh_from_db()
    users = {name: UserFactory(username=name) for name in ("stranger", "pending", "approved", "acked", "collab")}
    add_member(org, users["collab"], Role.READ)
    gating.access_request_create(repo=repo, user=users["pending"], answers={}, has_role=False)
    for name in ("approved", "acked"):
        gating.access_grant(repo=repo, reviewer=alice, user=users[name], has_role=False)
    version = license_at(repo, resolve_revision(repo, "main")).version
    acknowledgment_record(user=users["acked"], repo=repo, version=version)
    users["owner"] = alice
    return repo, users


EXPECTED = {
    "anonymous": (401, "Please log in"),
    "stranger": (403, "you have not requested access yet"),
    "pending": (403, "your request is pending review"),
    "approved": (403, "requires accepting its license CreativeML OpenRAIL-M (creativeml-openrail-m)"),
    "acked": (200, None),
    "collab": (200, None),
    "owner": (200, None),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_download_matrix(client, world, who):
    repo, users = world
    headers = {} if who == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {token_for(users[who])}"}
    response = client.get(FILE, **headers)
    status, fragment = EXPECTED[who]
    assert response.status_code == status
    body = b"".join(response.streaming_content) if status == 200 else response.content
    if status == 200:
        assert body == b'{"secret": 1}'
        assert Repo.objects.get(pk=repo.pk).downloads == 1
    else:
        assert response.headers["X-Error-Code"] == "GatedRepo" and fragment in response.json()["error"]
        assert b"secret" not in body and Repo.objects.get(pk=repo.pk).downloads == 0


@pytest.mark.parametrize("who", list(EXPECTED))
def test_license_routes_matrix(client, world, who):
    """The license itself is metadata: visible to all who see the repo; only admins see who accepted."""
    repo, users = world
    headers = {} if who == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {token_for(users[who])}"}
    info = client.get("/api/models/acme/rail/license", **headers)
    assert info.status_code == 200 and info.json()["acknowledged"] == (
        {"anonymous": None, "acked": True}.get(who, False)
    )
    acks = client.get("/api/models/acme/rail/license/acknowledgments", **headers)
    assert acks.status_code == {"anonymous": 401, "owner": 200}.get(who, 403)
    if who == "owner":
        assert [item["user"] for item in acks.json()] == ["acked"]
    else:
        assert b"acked" not in acks.content
    settings = client.put(
        "/api/models/acme/rail/license/settings",
        {"requireAcknowledgment": False},
        content_type="application/json",
        **headers,
    )
    assert settings.status_code == {"anonymous": 401, "owner": 200}.get(who, 403)


def test_private_repo_license_routes_look_missing(client, alice, bob):
    make_repo(alice, "hidden", {"README.md": RAIL_CARD}, private=True)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(bob)}"}
    for url in (
        "/api/models/alice/hidden/license",
        "/api/models/alice/hidden/license/acknowledgments",
        "/api/models/alice/hidden/derivatives",
    ):
        assert client.get(url, **headers).status_code == 404
    for url in ("/alice/hidden/license", "/alice/hidden/license/acknowledgments", "/alice/hidden/derivatives"):
        assert client.get(url).status_code == 404


def test_author_exports_who_accepted_which_version(world):
    repo, users = world
    owner = Client()
    owner.force_login(users["owner"])
    page = owner.get("/acme/rail/license/acknowledgments")
    assert page.status_code == 200 and "acked" in page.content.decode()
    csv = owner.get("/acme/rail/license/acknowledgments?export=csv")
    assert csv["Content-Type"].startswith("text/csv") and "attachment" in csv["Content-Disposition"]
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("user,fullname,repo,license") and lines[1].startswith("acked,,acme/rail,creativeml")
    exported = owner.get("/acme/rail/license/acknowledgments?export=json").json()
    ack = Acknowledgment.objects.get()
    assert exported == [
        {
            "user": "acked",
            "fullname": "",
            "repo": "acme/rail",
            "license": "creativeml-openrail-m",
            "licenseName": None,
            "version": ack.version,
            "revision": ack.commit_oid,
            "location": f"LICENSE@{ack.commit_oid}",
            "source": "api",
            "acceptedAt": exported[0]["acceptedAt"],
            "inForce": True,
        }
    ]
    stranger = Client()
    stranger.force_login(users["stranger"])
    assert stranger.get("/acme/rail/license/acknowledgments?export=csv").status_code == 403


def test_users_see_their_own_acknowledgments_of_repos_they_can_see(client, world):
    repo, users = world
    mine = client.get("/api/license-acknowledgments", HTTP_AUTHORIZATION=f"Bearer {token_for(users['acked'])}")
    assert [item["repo"] for item in mine.json()] == ["acme/rail"]
    assert client.get("/api/license-acknowledgments").status_code == 401
    repo_settings_update(repo=repo, private=True, actor=users["owner"])
    hidden = client.get("/api/license-acknowledgments", HTTP_AUTHORIZATION=f"Bearer {token_for(users['acked'])}")
    assert hidden.json() == []
    browser = Client()
    browser.force_login(users["acked"])
    assert "acme/rail" not in browser.get("/settings/licenses").content.decode()


def test_ask_access_form_includes_the_license(world):
    repo, users = world
    newcomer = UserFactory(username="newcomer")
    browser = Client()
    browser.force_login(newcomer)
    form = browser.get("/acme/rail/ask-access").content.decode()
    version = license_at(repo, resolve_revision(repo, "main")).version
    assert 'data-testid="license-ack"' in form and version in form and "Version one of the terms" in form
    refused = browser.post("/acme/rail/ask-access", {"license_version": version})
    assert refused.status_code == 400 and "accept the license" in refused.content.decode()
    assert not repo.access_requests.filter(user=newcomer).exists()
    done = browser.post("/acme/rail/ask-access", {"license_version": version, "accept_license": "on"})
    assert done.status_code == 302 and repo.access_requests.filter(user=newcomer).exists()
    ack = Acknowledgment.objects.get(user=newcomer)
    assert ack.source == "access-request" and ack.version == version
