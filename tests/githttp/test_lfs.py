"""git-lfs against the batch API: clone with and without smudge, per-object answers."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request

import pytest

from gating.models import AccessRequest
from registry import services
from tests.githttp.conftest import needs_git_lfs
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = [pytest.mark.django_db(transaction=True), needs_git_lfs]

WEIGHTS = bytes(range(256)) * 512  # binary, 128 KiB: stored through LFS
POINTER_HEAD = b"version https://git-lfs.github.com/spec/v1\n"


def _batch(hub: str, repo_path: str, objects: list[dict], token: str | None = None, ref: str | None = None):
    body: dict = {"operation": "download", "transfers": ["basic"], "objects": objects}
    if ref:
        body["ref"] = {"name": ref}
    headers = {"Content-Type": "application/vnd.git-lfs+json", "Accept": "application/vnd.git-lfs+json"}
    if token:
        headers["Authorization"] = "Basic " + base64.b64encode(f"git:{token}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        f"{hub}/{repo_path}.git/info/lfs/objects/batch", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback test server
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_clone_with_lfs_smudges_and_light_clone_keeps_pointers(git, alice, tmp_path):
    make_repo(alice, "weights", {"config.json": b"{}", "model.safetensors": WEIGHTS})
    full = tmp_path / "full"
    git.run("clone", git.url("alice/weights"), str(full))
    assert (full / "model.safetensors").read_bytes() == WEIGHTS
    light = tmp_path / "light"
    git.run("clone", git.url("alice/weights.git"), str(light), GIT_LFS_SKIP_SMUDGE="1")
    pointer = (light / "model.safetensors").read_bytes()
    assert pointer.startswith(POINTER_HEAD) and hashlib.sha256(WEIGHTS).hexdigest().encode() in pointer
    git.run("lfs", "pull", cwd=light)
    assert (light / "model.safetensors").read_bytes() == WEIGHTS


def test_gated_lfs_clone_with_credentials_of_a_granted_user(git, alice, tmp_path):
    repo = make_repo(alice, "gw", {"config.json": b"{}", "model.safetensors": WEIGHTS})
    services.repo_settings_update(repo=repo, gated="manual", actor=alice)
    granted = UserFactory(username="abe")
    AccessRequest.objects.create(repo=repo, user=granted, status="accepted")
    target = tmp_path / "gw"
    git.run("clone", git.url("alice/gw", token_for(granted, "read")), str(target))
    assert (target / "model.safetensors").read_bytes() == WEIGHTS


def test_batch_download_answers_per_object_and_scopes_objects_to_the_repo(git, alice, bob):
    sha = hashlib.sha256(WEIGHTS).hexdigest()
    item = {"oid": sha, "size": len(WEIGHTS)}
    make_repo(alice, "hidden", {"model.safetensors": WEIGHTS}, private=True)
    make_repo(bob, "other", {"config.json": b"{}"})
    status, headers, _ = _batch(git.hub, "alice/hidden", [item])
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert _batch(git.hub, "alice/nothing", [item])[:2][0] == 401
    # The same content exists in alice's private repo: bob's public repo does not serve it.
    status, _, answer = _batch(git.hub, "bob/other", [item])
    assert status == 200 and answer["objects"][0]["error"]["code"] == 404
    alice_token = token_for(alice, "read")
    status, _, answer = _batch(git.hub, "alice/hidden", [item, {"oid": "0" * 64, "size": 1}], alice_token, "main")
    found, missing = answer["objects"]
    assert found["actions"]["download"]["header"] == {"Authorization": f"Bearer {alice_token}"}
    assert missing["error"]["code"] == 404
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        found["actions"]["download"]["href"], headers=found["actions"]["download"]["header"]
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback test server
        assert response.read() == WEIGHTS
