"""Deleting is recoverable (issue 17, step 3): a deleted repo is kept for the grace period,
invisible to everyone exactly as a missing one, with its name reserved, restorable by its owner
or an operator; the garbage collector keeps its content until it is purged."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from accounts.models import Role
from registry import services
from registry.models import Repo, StoredObject
from registry.ops.gc import collect_garbage
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db

WEIGHTS = b"weights that must survive a deletion " * 64


def bearer(user, role: str = "write") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_for(user, role)}"}


def post(client, route: str, body: dict, headers: dict):
    return client.post(route, body, content_type="application/json", **headers)


def answer(response) -> tuple:
    return (response.status_code, response.content, response.get("X-Error-Code"), response.get("X-Error-Message"))


@pytest.fixture
def deleted(alice):
    repo = make_repo(alice, "painter", {"model.bin": WEIGHTS, "README.md": b"# painter\n"}, private=True)
    services.repo_delete(repo=repo)
    return repo


@pytest.mark.parametrize("who", ["anonymous", "stranger", "owner"])
def test_deleted_repo_answers_exactly_like_a_missing_one(client, deleted, who):
    headers = {"anonymous": {}, "stranger": bearer(UserFactory()), "owner": bearer(deleted.owner_user)}[who]
    for route in ("/api/models/alice/{}", "/alice/{}/resolve/main/model.bin", "/api/models/alice/{}/tree/main"):
        gone = client.get(route.format("painter"), **headers)
        never = client.get(route.format("never-was"), **headers)

        assert answer(gone) == answer(never)
        assert gone.status_code in (401, 404)
    listing = client.get("/api/models?author=alice", **headers).json()
    assert [m["id"] for m in listing] == []


def test_name_stays_reserved_and_the_owner_is_told_how_to_get_it_back(client, alice, deleted):
    other = make_repo(alice, "other")

    created = client.post("/api/repos/create", {"name": "painter"}, content_type="application/json", **bearer(alice))
    moved = client.post(
        "/api/repos/move",
        {"fromRepo": "alice/other", "toRepo": "alice/painter"},
        content_type="application/json",
        **bearer(alice),
    )

    assert created.status_code == 409 and moved.status_code == 409
    assert "restore" in created.json()["error"] and "/api/repos/restore" in moved.json()["error"]
    assert Repo.objects.filter(namespace="alice", name="painter").count() == 1
    assert Repo.objects.get(pk=other.pk).name == "other"


def test_owner_restores_with_history_and_content_intact_even_after_gc(client, alice, deleted):
    report = collect_garbage(grace=timedelta(0))
    assert StoredObject.objects.filter(sha256=hashlib.sha256(WEIGHTS).hexdigest()).exists()

    listed = client.get("/api/repos/deleted", **bearer(alice)).json()
    restored = client.post(
        "/api/repos/restore",
        {"repo": "alice/painter", "type": "model"},
        content_type="application/json",
        **bearer(alice),
    )

    assert [item["id"] for item in listed] == ["alice/painter"]
    assert listed[0]["purgeAt"] > listed[0]["deletedAt"]
    assert restored.status_code == 200, restored.content
    assert report.deleted_objects == 0
    download = client.get("/alice/painter/resolve/main/model.bin", **bearer(alice))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == WEIGHTS


@pytest.mark.parametrize("who", ["stranger", "read token of the owner", "org writer"])
def test_only_owners_and_operators_may_restore_and_others_see_nothing(client, deleted, who):
    org = OrganizationFactory()
    writer = UserFactory()
    add_member(org, writer, Role.WRITE)
    headers = {
        "stranger": bearer(UserFactory()),
        "read token of the owner": bearer(deleted.owner_user, "read"),
        "org writer": bearer(writer),
    }[who]
    body = {"repo": "alice/painter", "type": "model"}
    missing = {"repo": "alice/never-was", "type": "model"}

    for route in ("/api/repos/restore", "/api/repos/purge"):
        refused = client.post(route, body, content_type="application/json", **headers)
        never = client.post(route, missing, content_type="application/json", **headers)
        assert answer(refused) == answer(never)
        assert refused.status_code == 404
    assert client.get("/api/repos/deleted", **headers).json() == []
    assert Repo.objects.get(pk=deleted.pk).deleted_at is not None


def test_org_admin_and_operator_may_restore(client, alice):
    org = OrganizationFactory(name="lab")
    admin = UserFactory()
    add_member(org, admin, Role.ADMIN)
    first, second = make_repo(org, "first", author=admin), make_repo(org, "second", author=admin)
    services.repo_delete(repo=first)
    services.repo_delete(repo=second)
    operator = UserFactory(is_staff=True)

    by_admin = client.post(
        "/api/repos/restore", {"repo": "lab/first"}, content_type="application/json", **bearer(admin)
    )
    by_operator = client.post(
        "/api/repos/restore", {"repo": "lab/second"}, content_type="application/json", **bearer(operator)
    )

    assert by_admin.status_code == 200 and by_operator.status_code == 200
    assert Repo.objects.filter(owner_org=org, deleted_at__isnull=True).count() == 2


def test_grace_period_ends_in_a_purge_then_gc_frees_the_content(alice, deleted, settings):
    settings.GATEHOUSE_REPO_DELETE_GRACE_DAYS = 30
    sha256 = hashlib.sha256(WEIGHTS).hexdigest()

    assert services.repos_purge_deleted(now=timezone.now() + timedelta(days=29)) == 0
    assert services.repos_purge_deleted(now=timezone.now() + timedelta(days=31)) == 1

    assert not Repo.objects.filter(pk=deleted.pk).exists()
    collect_garbage(grace=timedelta(0))
    assert not StoredObject.objects.filter(sha256=sha256).exists()
    make_repo(alice, "painter")  # the name is free again


def test_owner_may_purge_at_once_to_free_the_name(client, alice, deleted):
    purged = client.post(
        "/api/repos/purge", {"repo": "alice/painter"}, content_type="application/json", **bearer(alice)
    )

    assert purged.status_code == 200
    created = client.post("/api/repos/create", {"name": "painter"}, content_type="application/json", **bearer(alice))
    assert created.status_code == 200, created.content


@pytest.mark.django_db(transaction=True)
def test_hub_client_delete_then_restore(hub, alice, tmp_path):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/roundtrip")
    api.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="model.bin", repo_id="alice/roundtrip")

    api.delete_repo("alice/roundtrip")

    assert not api.repo_exists("alice/roundtrip")
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_repo("alice/roundtrip")
    assert refused.value.response.status_code == 409
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("alice/roundtrip")
    # The Hub client has no restore method: plain HTTP.
    response = requests.post(
        f"{hub}/api/repos/restore",
        json={"repo": "alice/roundtrip"},
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    path = hf_hub_download("alice/roundtrip", "model.bin", token=api.token, cache_dir=tmp_path)
    with open(path, "rb") as downloaded:
        assert downloaded.read() == WEIGHTS


@pytest.mark.parametrize("body", [{"repo": "alice/painter", "type": ["model"]}, {"repo": "alice/painter", "type": {}}])
def test_restore_with_a_type_that_is_not_text_is_a_400(client, alice, deleted, body):
    """An unhashable `type` was a TypeError (500) in the lookup of the known types."""
    for route in ("/api/repos/restore", "/api/repos/purge"):
        response = client.post(route, body, content_type="application/json", **bearer(alice))
        assert response.status_code == 400, response.content
