"""The real Hub client: a RAIL-licensed repo serves files only after the user accepted the
license version in force at the requested revision."""

import hashlib
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError

from licenses.models import Acknowledgment
from registry.models import Repo
from tests.licenses.conftest import LICENSE_V1, LICENSE_V2, change_license, head
from tests.support.builders import UserFactory, commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _fresh(tmp_path, name):
    """A cache of its own: the client answers from its cache when a HEAD call fails."""
    return str(tmp_path / name)


def _license(client, repo_id, token, revision=None):
    params = {"revision": revision} if revision else {}
    response = client.get(f"/api/models/{repo_id}/license", params, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response.json()


def _accept(client, repo_id, token, version, revision=None):
    body = {"version": version} | ({"revision": revision} if revision else {})
    return client.post(
        f"/api/models/{repo_id}/license/accept",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.s3
def test_download_refused_until_accepted_then_again_after_the_text_changes(
    hub, client, alice, rail_repo, bob_token, tmp_path
):
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download("alice/rail", "config.json", token=bob_token)
    message = str(refused.value)
    assert "license CreativeML OpenRAIL-M (creativeml-openrail-m)" in message
    assert "/alice/rail/license?revision=" in message

    info = _license(client, "alice/rail", bob_token)
    assert info["version"] == hashlib.sha256(LICENSE_V1).hexdigest()  # the exact text shown
    assert info["text"] == LICENSE_V1.decode() and info["location"] == f"LICENSE@{head(rail_repo)}"
    assert info["requiresAcknowledgment"] is True and info["acknowledged"] is False
    accepted = _accept(client, "alice/rail", bob_token, info["version"])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["revision"] == head(rail_repo) and accepted.json()["source"] == "api"

    path = hf_hub_download("alice/rail", "config.json", token=bob_token)
    assert Path(path).read_text() == '{"hidden": 8}'

    old_commit = head(rail_repo)
    new_commit = change_license(rail_repo, alice)
    with pytest.raises(GatedRepoError) as changed:
        hf_hub_download("alice/rail", "config.json", token=bob_token, cache_dir=_fresh(tmp_path, "after-change"))
    message = str(changed.value)
    v1, v2 = hashlib.sha256(LICENSE_V1).hexdigest(), hashlib.sha256(LICENSE_V2).hexdigest()
    assert f"The license text changed: you accepted version {v1[:12]}" in message
    assert f"revision {new_commit[:12]} is under version {v2[:12]}" in message
    assert f"/alice/rail/license?revision={new_commit}" in message

    # The earlier acceptance still covers the revision whose text it matched.
    old = hf_hub_download(
        "alice/rail", "config.json", revision=old_commit, token=bob_token, cache_dir=_fresh(tmp_path, "old")
    )
    assert Path(old).read_text() == '{"hidden": 8}'

    assert _accept(client, "alice/rail", bob_token, v2).status_code == 201
    hf_hub_download("alice/rail", "config.json", token=bob_token, force_download=True)
    assert Acknowledgment.objects.filter(user__username="bob").count() == 2


def test_anonymous_is_told_to_log_in_and_owner_needs_no_acknowledgment(hub, client, alice, rail_repo):
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download("alice/rail", "config.json")
    assert "Log in, then read and accept it at" in str(refused.value)
    response = client.head("/alice/rail/resolve/main/config.json")
    assert response.status_code == 401 and response.headers["X-Error-Code"] == "GatedRepo"

    hf_hub_download("alice/rail", "config.json", token=token_for(alice))
    assert Acknowledgment.objects.count() == 0


def test_refused_downloads_count_nothing_and_send_no_bytes(hub, client, alice, rail_repo, bob_token):
    response = client.get("/alice/rail/resolve/main/config.json", HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    assert response.status_code == 403 and response.headers["X-Error-Code"] == "GatedRepo"
    assert b"hidden" not in response.content and "creativeml-openrail-m" in response.json()["error"]
    assert Repo.objects.get(pk=rail_repo.pk).downloads == 0


def test_permissive_license_needs_nothing_until_the_author_opts_in(hub, client, alice, bob, bob_token, tmp_path):
    make_repo(alice, "plain", {"README.md": b"---\nlicense: mit\n---\n", "config.json": b"{}"})
    hf_hub_download("alice/plain", "config.json", token=bob_token)

    opt_in = client.put(
        "/api/models/alice/plain/license/settings",
        {"requireAcknowledgment": True},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert opt_in.status_code == 200 and opt_in.json() == {"requireAcknowledgment": True}
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download("alice/plain", "config.json", token=bob_token, cache_dir=_fresh(tmp_path, "opted-in"))
    assert "requires accepting its license MIT (mit)" in str(refused.value)

    info = _license(client, "alice/plain", bob_token)
    assert info["location"].endswith("(licensedcode-data 32.1.0: mit)")  # packaged text: no LICENSE file
    assert "Permission is hereby granted, free of charge" in info["text"]
    assert _accept(client, "alice/plain", bob_token, info["version"]).status_code == 201
    hf_hub_download("alice/plain", "config.json", token=bob_token, force_download=True)


def test_a_commit_that_leaves_the_license_alone_keeps_the_acknowledgment(hub, client, alice, rail_repo, bob_token):
    info = _license(client, "alice/rail", bob_token)
    assert _accept(client, "alice/rail", bob_token, info["version"]).status_code == 201
    commit_files(rail_repo, {"config.json": b'{"hidden": 16}'}, author=alice, summary="bump")
    path = hf_hub_download("alice/rail", "config.json", token=bob_token, force_download=True)
    assert Path(path).read_text() == '{"hidden": 16}'


def test_an_acknowledgment_survives_a_super_squash_of_the_same_license_text(
    hub, client, alice, rail_repo, bob_token, tmp_path
):
    """Issue 16: super_squash_history rewrites the commits, not the license text, which is what
    an acknowledgment binds to (README, History and storage housekeeping)."""
    info = _license(client, "alice/rail", bob_token)
    assert _accept(client, "alice/rail", bob_token, info["version"]).status_code == 201
    commit_files(rail_repo, {"config.json": b'{"hidden": 16}'}, author=alice, summary="bump")
    HfApi(token=token_for(alice)).super_squash_history("alice/rail", commit_message="squashed")
    path = hf_hub_download("alice/rail", "config.json", token=bob_token, cache_dir=_fresh(tmp_path, "after"))
    assert Path(path).read_text() == '{"hidden": 16}'
    # Someone who never accepted is still refused at the squashed head.
    carol = token_for(UserFactory(username="carol"))
    with pytest.raises(GatedRepoError):
        hf_hub_download("alice/rail", "config.json", token=carol, cache_dir=_fresh(tmp_path, "carol"))


def test_a_pull_request_cannot_shed_the_repo_license(client, alice, bob, rail_repo, bob_token):
    """SECURITY: anyone may push a pull request whose card says `license: mit`; its revision still
    needs the acknowledgment the repo's own license asks for."""
    from registry import services
    from registry.models import Ref

    services.branch_create(repo=rail_repo, branch="sneaky")
    commit_files(rail_repo, {"README.md": b"---\nlicense: mit\n---\n", "LICENSE": None}, author=bob, branch="sneaky")
    sneaky = Ref.objects.get(repo=rail_repo, name="refs/heads/sneaky")
    Ref.objects.create(repo=rail_repo, name="refs/pr/1", kind="pr", commit_oid=sneaky.commit_oid)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {bob_token}"}
    for revision in ("refs%2Fpr%2F1", sneaky.commit_oid):
        response = client.get(f"/alice/rail/resolve/{revision}/config.json", **auth)
        assert response.status_code == 403 and response["X-Error-Code"] == "GatedRepo", revision
