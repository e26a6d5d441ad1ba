"""Repo ids as the Hub reads them (issue 16): case-insensitive on every route, answered with the
canonical case; an id without a namespace is a missing repo (typed RepoNotFound), never an HTML
404; a private repo looks exactly like a missing one in every casing."""

from __future__ import annotations

import importlib

import pytest
import requests
from django.apps import apps
from django.db import connection
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from core import lookup_cache
from gating.policy import ANONYMOUS
from gating.visibility import find_visible
from registry import services
from registry.models import Repo, RepoRedirect
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db

WEIGHTS = b"\x00\x01weights" * 64


def answer(response) -> tuple:
    return (response.status_code, response.content, response.get("X-Error-Code"), response.get("X-Error-Message"))


@pytest.fixture
def mixed(alice):
    return make_repo(alice, "Tiny-Model", {"config.json": b"{}", "model.safetensors": WEIGHTS})


def test_every_casing_reaches_the_repo_and_the_canonical_id_comes_back(hub, alice, mixed):
    api = HfApi(endpoint=hub, token=token_for(alice))
    for variant in ("alice/tiny-model", "ALICE/TINY-MODEL", "Alice/tiny-Model"):
        assert api.model_info(variant).id == "alice/Tiny-Model"
        assert api.repo_exists(variant) and api.file_exists(variant, "config.json")
        assert api.revision_exists(variant, "main")
        assert sorted(api.list_repo_files(variant)) == [".gitattributes", "config.json", "model.safetensors"]
    path = hf_hub_download("ALICE/tiny-model", "model.safetensors", token=False)
    with open(path, "rb") as downloaded:
        assert downloaded.read() == WEIGHTS
    # Writes too: a commit through another casing lands in the same repo.
    api.upload_file(repo_id="alice/TINY-model", path_in_repo="notes.txt", path_or_fileobj=b"hello")
    assert api.file_exists("alice/Tiny-Model", "notes.txt")
    # The portal, the LFS batch API and the Xet token route.
    assert requests.get(f"{hub}/ALICE/tiny-model").status_code == 200
    batch = requests.post(
        f"{hub}/alice/TINY-MODEL.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": "0" * 64, "size": 1}]},
        headers={"Accept": "application/vnd.git-lfs+json", "Authorization": f"Bearer {token_for(alice)}"},
    )
    assert batch.status_code == 200
    xet = requests.get(f"{hub}/api/models/ALICE/tiny-model/xet-read-token/main")
    assert xet.status_code == 200 and xet.json()["accessToken"]


def test_creating_a_differently_cased_id_is_a_409_with_the_hubs_text(hub, alice, mixed):
    api = HfApi(endpoint=hub, token=token_for(alice))
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_repo("alice/tiny-model")
    assert refused.value.response.status_code == 409
    assert "A model repository called alice/Tiny-Model already exists" in str(refused.value)
    # exist_ok=True swallows it, as for the same id.
    api.create_repo("alice/TINY-MODEL", exist_ok=True)
    assert Repo.objects.filter(namespace="alice").count() == 1
    # A move onto another casing of an existing id is refused the same way.
    make_repo(alice, "other")
    with pytest.raises(HfHubHTTPError) as moved:
        api.move_repo("alice/other", "alice/TINY-model")
    assert moved.value.response.status_code == 409
    # Changing only the case of one's own repo is a rename, and needs no redirect.
    api.move_repo("alice/other", "alice/Other")
    assert api.model_info("alice/other").id == "alice/Other"
    assert not RepoRedirect.objects.exists()


def test_namespaces_are_read_whatever_their_case_when_creating_and_moving(hub, alice):
    """Found by a review: `organization="Alice"` and `toRepo="ACME/..."` were refused (403)."""
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "write")
    api = HfApi(endpoint=hub, token=token_for(alice))
    assert api.create_repo("Alice/one").repo_id == "alice/one"
    assert api.create_repo("ACME/two").repo_id == "acme/two"
    api.move_repo("alice/one", "Acme/one")
    assert set(Repo.objects.values_list("namespace", "name")) == {("acme", "one"), ("acme", "two")}
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_repo("Bob-Org/three")
    assert refused.value.response.status_code == 403


def test_an_old_id_redirects_in_every_casing(hub, alice, mixed):
    api = HfApi(endpoint=hub, token=token_for(alice))
    api.move_repo("alice/Tiny-Model", "alice/renamed")
    assert api.model_info("ALICE/TINY-MODEL").id == "alice/renamed"


@pytest.mark.parametrize("who", ["anonymous", "stranger"])
def test_a_private_repo_looks_missing_in_every_casing(client, alice, who):
    make_repo(alice, "Secret", {"model.safetensors": WEIGHTS}, private=True)
    headers = {} if who == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {token_for(UserFactory())}"}
    for route in ("/api/models/{}", "/{}/resolve/main/model.safetensors", "/api/models/{}/tree/main"):
        never = client.get(route.format("alice/never-was"), **headers)
        for variant in ("alice/Secret", "alice/secret", "ALICE/SECRET"):
            assert answer(client.get(route.format(variant), **headers)) == answer(never)
        assert never.status_code == (401 if who == "anonymous" else 404)
        assert never["X-Error-Code"] == "RepoNotFound"


def test_an_id_without_a_namespace_is_a_missing_repo(hub, client, alice):
    api = HfApi(endpoint=hub, token=token_for(alice))
    for repo_id in ("gpt2", "missing_repo_id"):
        assert api.repo_exists(repo_id) is False
        assert api.file_exists(repo_id, "config.json") is False
        assert api.revision_exists(repo_id, "main") is False
        assert api.repo_exists(repo_id, repo_type="dataset") is False
    token = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    for route in ("/api/models/{}", "/api/models/{}/revision/main", "/{}/resolve/main/config.json"):
        anonymous, signed_in = client.get(route.format("gpt2")), client.get(route.format("gpt2"), **token)
        assert (anonymous.status_code, anonymous["X-Error-Code"]) == (401, "RepoNotFound")
        assert (signed_in.status_code, signed_in["X-Error-Code"]) == (404, "RepoNotFound")
        assert answer(signed_in) == answer(client.get(route.format("alice/never-was"), **token))
    assert client.head("/datasets/squad/resolve/main/x.json")["X-Error-Code"] == "RepoNotFound"


@pytest.mark.django_db(transaction=True)  # inside a transaction nothing is looked up in the cache
def test_lookups_and_their_cache_key_on_the_folded_id(alice, mixed, monkeypatch):
    found = find_visible(ANONYMOUS, "model", "ALICE", "tiny-MODEL")
    assert found is not None and found.repo.pk == mixed.pk
    stored = []
    monkeypatch.setattr(lookup_cache, "enabled", lambda: True)
    monkeypatch.setattr(lookup_cache.cache, "get", lambda key: stored.append(key))
    monkeypatch.setattr(lookup_cache.cache, "generation", lambda: None)
    for variant in ("Tiny-Model", "TINY-MODEL"):
        find_visible(ANONYMOUS, "model", "Alice", variant, ["refs/heads/main"])
    assert stored == [("find", None, "model", "alice", "tiny-model", ("refs/heads/main",))] * 2


def test_the_migration_renames_later_collisions_and_records_redirects(alice):
    first = make_repo(alice, "dup")
    with connection.cursor() as cursor:  # as an earlier version could have left them
        cursor.execute("DROP INDEX repo_unique_folded_id")
    later = Repo.objects.create(namespace="alice", name="DUP", owner_user=alice)
    latest = Repo.objects.create(namespace="alice", name="Dup", owner_user=alice)
    Repo.objects.create(namespace="alice", name="dup-2", owner_user=alice)  # the first suffix is taken
    migration = importlib.import_module("registry.migrations.0014_repo_id_collisions")
    migration.resolve_collisions(apps, None)
    names = dict(Repo.objects.filter(pk__in=[first.pk, later.pk, latest.pk]).values_list("pk", "name"))
    assert names == {first.pk: "dup", later.pk: "DUP-3", latest.pk: "Dup-4"}
    redirects = {(r.name, r.repo_id) for r in RepoRedirect.objects.all()}
    assert redirects == {("Dup", latest.pk)}  # "DUP" and "Dup" fold alike: the newest is kept


def test_repo_services_fold_too(alice, mixed):
    services.repo_delete(repo=mixed)
    with pytest.raises(Exception, match="keeps its name"):
        services.repo_create(namespace="alice", name="TINY-MODEL", creator=alice)
