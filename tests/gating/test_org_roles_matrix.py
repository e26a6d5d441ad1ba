"""The authorization matrix of organisation roles (issue 20): for each of the four roles (read,
contributor, write, admin), plus an outsider, on an org repo someone else created and on one the
caller created, what the caller may do: create repos in the org, commit to the default branch,
open a pull request, change the gating settings, review access requests, delete the repo; and
that a refusal changed nothing. The rules are gating.policy's (`repo_role_from_membership`)."""

import json

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from accounts.models import Membership
from gating.models import AccessRequest
from registry.models import Ref, Repo
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

pytestmark = pytest.mark.django_db

ROLES = ["outsider", "read", "contributor", "write", "admin"]

# What each caller may do on a private org repo they did not create ("theirs": one they created).
ALLOWED = {
    "outsider": set(),
    "read": {"see", "pr"},
    "contributor": {"see", "pr", "create", "commit:theirs"},
    "write": {"see", "pr", "create", "commit", "commit:theirs"},
    "admin": {"see", "pr", "create", "commit", "commit:theirs", "manage", "review", "delete"},
}


@pytest.fixture
def org_world():
    founder = UserFactory(username="fran")
    org = OrganizationFactory(name="acme")
    add_member(org, founder, "admin")
    repo = make_repo(org, "shared", {"config.json": b"{}"}, private=True, author=founder)
    AccessRequest.objects.create(repo=repo, user=UserFactory(username="asker"), status="pending")
    return org, repo


def _caller(org, role: str) -> tuple:
    user = UserFactory(username=f"u-{role}")
    if role != "outsider":
        add_member(org, user, role)
    return user, token_for(user, role="write")


def _auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _head(repo: Repo) -> str:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid


@pytest.mark.parametrize("role", ROLES)
def test_org_role_matrix(client, org_world, role):
    org, shared = org_world
    user, token = _caller(org, role)
    allowed = ALLOWED[role]
    refused = (404,) if "see" not in allowed else (403,)

    seen = client.get("/api/models/acme/shared", **_auth(token))
    assert seen.status_code == (200 if "see" in allowed else 404)

    body = json.dumps({"name": f"own-{role}", "organization": "acme"})
    created = client.post("/api/repos/create", body, "application/json", **_auth(token))
    assert created.status_code == (200 if "create" in allowed else 403), created.content
    assert Repo.objects.filter(name=f"own-{role}").exists() == ("create" in allowed)
    if "create" in allowed:
        own = Repo.objects.get(name=f"own-{role}")
        assert own.created_by == user
        before = _head(own)
        assert post_commit(client, token, f"acme/own-{role}", [inline_file("a.txt", b"mine")]).status_code == 200
        assert _head(own) != before

    before = _head(shared)
    committed = post_commit(client, token, "acme/shared", [inline_file("b.txt", b"x")])
    assert committed.status_code == (200 if "commit" in allowed else refused[0]), committed.content
    assert (_head(shared) != before) == ("commit" in allowed)

    pr = post_commit(client, token, "acme/shared", [inline_file("c.txt", b"x")], create_pr=True)
    assert pr.status_code == (200 if "pr" in allowed else 404), pr.content
    assert Ref.objects.filter(repo=shared, name__startswith="refs/pr/").exists() == ("pr" in allowed)

    settings = client.put(
        "/api/models/acme/shared/settings", json.dumps({"gated": "manual"}), "application/json", **_auth(token)
    )
    assert settings.status_code == (200 if "manage" in allowed else refused[0])
    shared.refresh_from_db()
    assert (shared.gated == "manual") == ("manage" in allowed)
    assert client.get("/acme/shared/gating", **_auth(token)).status_code == (200 if "manage" in allowed else refused[0])

    queue = client.get("/api/models/acme/shared/user-access-request/pending", **_auth(token))
    assert queue.status_code == (200 if "review" in allowed else refused[0])
    assert (b"asker" in queue.content) == ("review" in allowed)

    deleted = client.generic(
        "DELETE",
        "/api/repos/delete",
        json.dumps({"name": "shared", "organization": "acme"}),
        "application/json",
        **_auth(token),
    )
    assert deleted.status_code == (200 if "delete" in allowed else refused[0])
    shared.refresh_from_db()
    assert (shared.deleted_at is not None) == ("delete" in allowed)


def test_a_contributor_does_not_write_to_a_repo_another_contributor_created(client, org_world):
    org, _ = org_world
    first, first_token = _caller(org, "contributor")
    second = UserFactory(username="second")
    add_member(org, second, "contributor")
    make_repo(org, "firsts", {"a.txt": b"1"}, author=first)
    assert post_commit(client, first_token, "acme/firsts", [inline_file("a.txt", b"2")]).status_code == 200
    refused = post_commit(client, token_for(second), "acme/firsts", [inline_file("a.txt", b"3")])
    assert refused.status_code == 403


def test_a_contributor_promoted_to_write_writes_everywhere_and_demoted_to_read_nowhere(client, org_world):
    org, shared = org_world
    user, token = _caller(org, "contributor")
    make_repo(org, "mine", {"a.txt": b"1"}, author=user)
    Membership.objects.filter(user=user).update(role="write")
    assert post_commit(client, token, "acme/shared", [inline_file("b.txt", b"x")]).status_code == 200
    Membership.objects.filter(user=user).update(role="read")
    assert post_commit(client, token, "acme/mine", [inline_file("a.txt", b"2")]).status_code == 403


def test_a_read_token_of_a_contributor_writes_nothing(client, org_world):
    org, _ = org_world
    user = UserFactory(username="ro")
    add_member(org, user, "contributor")
    make_repo(org, "mine", {"a.txt": b"1"}, author=user)
    read_token = token_for(user, role="read")
    assert post_commit(client, read_token, "acme/mine", [inline_file("a.txt", b"2")]).status_code == 403
    created = client.post(
        "/api/repos/create", json.dumps({"name": "x", "organization": "acme"}), "application/json", **_auth(read_token)
    )
    assert created.status_code == 403 and not Repo.objects.filter(name="x").exists()


@pytest.mark.parametrize("role", ROLES)
def test_collections_in_the_org_take_the_write_role(client, org_world, role):
    """A contributor creates repos in the org, not collections: only writers could change one."""
    org, _ = org_world
    _, token = _caller(org, role)
    body = json.dumps({"title": f"picks of {role}", "namespace": "acme", "private": False})
    created = client.post("/api/collections", body, "application/json", **_auth(token))
    assert created.status_code == (200 if role in ("write", "admin") else 403), created.content


@pytest.mark.django_db(transaction=True)
def test_a_contributor_with_the_real_client(hub, hf_cache):
    founder, contributor = UserFactory(username="fran"), UserFactory(username="cid")
    reader = UserFactory(username="rex")
    org = OrganizationFactory(name="acme")
    add_member(org, founder, "admin")
    add_member(org, contributor, "contributor")
    add_member(org, reader, "read")
    make_repo(org, "shared", {"config.json": b"{}"}, author=founder)
    api = HfApi(token=token_for(contributor))

    api.create_repo("acme/mine", private=True)
    api.upload_file(path_or_fileobj=b"mine", path_in_repo="a.txt", repo_id="acme/mine")
    assert [f for f in api.list_repo_files("acme/mine") if f == "a.txt"] == ["a.txt"]
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="b.txt", repo_id="acme/shared")
    assert refused.value.response.status_code == 403
    pr = api.upload_file(path_or_fileobj=b"x", path_in_repo="b.txt", repo_id="acme/shared", create_pr=True)
    assert pr.pr_num == 1
    with pytest.raises(HfHubHTTPError) as refused:
        api.update_repo_settings("acme/mine", gated="manual")  # write on it, not admin
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(token=token_for(reader)).create_repo("acme/readers")
    assert refused.value.response.status_code == 403
    assert not Repo.objects.filter(name="readers").exists()


def test_only_an_admin_takes_the_old_name_of_a_moved_repo(client, org_world):
    """Found by an outsider attack: a contributor created a repo at the old id of the org's
    renamed repo, so every old link, clone and script got the contributor's files."""
    org, repo = org_world
    admin_token = token_for(Membership.objects.get(org=org, role="admin").user)
    moved = client.post(
        "/api/repos/move",
        json.dumps({"fromRepo": repo.repo_id, "toRepo": f"acme/{repo.name}-v2", "type": "model"}),
        content_type="application/json",
        **_auth(admin_token),
    )
    assert moved.status_code == 200, moved.content
    _, contributor_token = _caller(org, "contributor")
    taken = client.post(
        "/api/repos/create",
        json.dumps({"name": repo.name, "organization": "acme"}),
        content_type="application/json",
        **_auth(contributor_token),
    )
    assert taken.status_code == 403 and b"only an admin" in taken.content
    still = client.get(f"/api/models/acme/{repo.name}", **_auth(admin_token))
    assert still.status_code in (301, 302, 307, 308)  # the old id still redirects
    reused = client.post(
        "/api/repos/create",
        json.dumps({"name": repo.name, "organization": "acme"}),
        content_type="application/json",
        **_auth(admin_token),
    )
    assert reused.status_code == 200, reused.content
