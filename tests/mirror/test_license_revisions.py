"""The license a mirrored repo is under, whatever revision a download names (mirror.license_gate):
an upstream pull request cannot replace it, upstream answers that do not say which commit they
describe fail closed, and the page accepts only with a CSRF token. Against the upstream Gatehouse
of tests/mirror/conftest.py, through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from huggingface_hub import CommitOperationAdd, hf_hub_download
from huggingface_hub.errors import GatedRepoError

from mirror import license_gate, upstream_cache
from mirror.config import upstream_for_namespace
from mirror.credentials import Credential
from mirror.models import MirrorLicenseAcknowledgment, UpstreamCredential
from tests.mirror.conftest import UPSTREAM_NAME, upstream_api
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)
HEAD_TEXT = "OpenRAIL license of the repo.\nUse restrictions: no harm.\n"


def _rail_repo(upstream) -> tuple[str, str]:
    """A new upstream repo under OpenRAIL (a LICENSE of its own); (its id, its head commit)."""
    api = upstream_api(upstream)
    repo_id = f"upco/rail-{secrets.token_hex(4)}"
    api.create_repo(repo_id)
    commit = api.create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", b"---\nlicense: openrail\n---\n# rail\n"),
            CommitOperationAdd("LICENSE", HEAD_TEXT.encode()),
            CommitOperationAdd("config.json", b'{"rail": true}\n'),
        ],
        commit_message="rail",
    )
    return repo_id, commit.oid


def _reader(hub: str, upstream) -> tuple[object, str]:
    """A user of this hub whose upstream token is the upstream owner's (its own flow exempts them)."""
    user = UserFactory(username=f"r{secrets.token_hex(3)}")
    token = token_for(user)
    answer = requests.put(
        f"{hub}/api/mirror/upstreams/{UPSTREAM_NAME}/token",
        json={"token": upstream.tokens["upco"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200
    return user, token


def test_an_upstream_pull_request_cannot_replace_the_license_in_force(hub, mirror_settings, tmp_path):
    """Found by a review: anyone may open refs/pr/N upstream with `license: openrail` and a
    LICENSE that says nothing; accepting that text here let its pull request (or its commit id)
    download under it. Now the default branch's text is needed at every revision while it needs
    acknowledgment, and a revision's own text is needed besides (it adds, never replaces)."""
    repo_id, head = _rail_repo(mirror_settings)
    pr = upstream_api(mirror_settings).create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", b"---\nlicense: openrail\n---\n# mine now\n"),
            CommitOperationAdd("LICENSE", b"Nothing to see here.\n"),
        ],
        commit_message="relicense",
        create_pr=True,
    )
    assert pr.pr_revision == "refs/pr/1"
    pr_commit = pr.oid
    user, token = _reader(hub, mirror_settings)
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{hub}/api/models/{repo_id}/license"

    # The page at the pull request shows the repo's license (its head's), not the PR's text.
    shown = requests.get(api, params={"revision": "refs/pr/1"}, headers=auth).json()
    assert shown["text"] == HEAD_TEXT and shown["revision"] == head and shown["contributedRevision"] is True
    assert shown["acknowledged"] is False

    # Accepting the PR's own text is recorded (it is that revision's), and opens nothing.
    pr_version = hashlib.sha256(b"Nothing to see here.\n").hexdigest()
    accepted = requests.post(f"{api}/accept", json={"version": pr_version, "revision": "refs/pr/1"}, headers=auth)
    assert accepted.status_code == 201, accepted.text
    for revision in ("refs/pr/1", pr_commit, "main"):
        with pytest.raises(GatedRepoError) as refused:
            hf_hub_download(repo_id, "config.json", revision=revision, token=token, cache_dir=tmp_path / "a")
        message = refused.value.response.headers["X-Error-Message"]
        assert f"/{repo_id}/license?revision={head}" in message, message

    # The repo's own text accepted: every revision downloads.
    head_version = hashlib.sha256(HEAD_TEXT.encode()).hexdigest()
    accepted = requests.post(f"{api}/accept", json={"version": head_version}, headers=auth)
    assert accepted.status_code == 201, accepted.text
    for revision in ("refs/pr/1", pr_commit, "main"):
        path = hf_hub_download(repo_id, "config.json", revision=revision, token=token, cache_dir=tmp_path / "b")
        assert Path(path).read_bytes() == b'{"rail": true}\n'
    assert requests.get(api, params={"revision": "refs/pr/1"}, headers=auth).json()["acknowledged"] is True

    # Another user who accepts only the head's text still needs the PR's own for the PR.
    other, other_token = _reader(hub, mirror_settings)
    other_auth = {"Authorization": f"Bearer {other_token}"}
    assert requests.post(f"{api}/accept", json={"version": head_version}, headers=other_auth).status_code == 201
    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download(repo_id, "config.json", revision="refs/pr/1", token=other_token, cache_dir=tmp_path / "c")
    assert f"/{repo_id}/license?revision={pr_commit}" in refused.value.response.headers["X-Error-Message"]
    shown = requests.get(api, params={"revision": "refs/pr/1"}, headers=other_auth).json()
    assert shown["version"] == pr_version and shown["contributedRevision"] is False
    versions = set(MirrorLicenseAcknowledgment.objects.filter(user=user).values_list("text_id", flat=True))
    assert versions == {pr_version, head_version}


def _plant(credential_key: str, kind: str, *parts: str, body: bytes = b"", headers: dict | None = None) -> None:
    """An upstream answer, as the cache keeps it for a caller (the same bytes a misbehaving
    upstream would have sent): the real cache, the real code reading it."""
    upstream = upstream_for_namespace("upco")
    assert upstream is not None
    key = upstream_cache._key(kind, upstream, Credential(token="x", key=credential_key), *parts)
    cache.set(key, {"body": body, "headers": headers or {}, "at": time.time()}, timeout=300)


def test_odd_upstream_answers_fail_closed(hub, mirror_settings):
    """Found by a review: revision metadata that was not an object (or named no commit) read as
    "no license to accept", and commit ids were checked for their length only, though they go
    into later upstream paths sent with the caller's token and into accept URLs."""
    repo_id, head = _rail_repo(mirror_settings)
    user, token = _reader(hub, mirror_settings)
    row = UpstreamCredential.objects.get(user=user)
    key = f"u{user.pk}.{row.pk}.{row.updated_at.timestamp():.6f}"
    empty = hashlib.sha256(b"").hexdigest()

    # The metadata of the commit downloaded from is not an object: refused, not served unaccepted.
    auth = {"Authorization": f"Bearer {token}"}
    _plant(key, "md", "GET", f"/api/models/{repo_id}/revision/{head}", empty, body=b"[]")
    refused = requests.get(f"{hub}/{repo_id}/resolve/main/config.json", headers=auth)
    assert refused.status_code == 502 and refused.headers["X-Error-Code"] == "UpstreamInvalid"

    # A commit id that is 40 characters but not hex (it would go into the next upstream path).
    bad = "../../api/whoami-v2?" + "a" * 20
    _plant(
        key,
        "file",
        f"/{repo_id}/resolve/main/config.json",
        headers={"X-Repo-Commit": bad, "ETag": f'"{"b" * 40}"', "Content-Length": "15"},
    )
    refused = requests.get(f"{hub}/{repo_id}/resolve/main/config.json", headers=auth)
    assert refused.status_code == 502 and refused.headers["X-Error-Code"] == "UpstreamInvalid"

    # The license API at a revision whose metadata names no proper commit.
    _plant(key, "md", "GET", f"/api/models/{repo_id}/revision/v1", empty, body=b'{"sha": "' + b"G" * 40 + b'"}')
    answer = requests.get(f"{hub}/api/models/{repo_id}/license", params={"revision": "v1"}, headers=auth)
    assert answer.status_code == 502 and answer.headers["X-Error-Code"] == "UpstreamInvalid"


def test_a_card_listing_several_licenses_needs_acknowledgment_if_any_does():
    """Found by a review: only the first of `license: [mit, openrail]` was read."""
    listed = {"sha": "a" * 40, "cardData": {"license": ["mit", "OpenRAIL"]}}
    assert license_gate.declared_license(listed) == "openrail"
    assert license_gate.needs_acknowledgment(listed)
    assert license_gate.declared_license({"cardData": {"license": ["mit", "apache-2.0"]}}) == "mit"
    assert license_gate.declared_license({"tags": ["license:mit", "license:openrail"]}) == "openrail"
    assert license_gate.declared_license({}) == ""
    head = {"sha": "c" * 40, "cardData": {"license": "mit"}}
    assert license_gate.in_force(listed, head) == [listed]  # the revision adds a requirement
    assert license_gate.in_force(head, listed) == [listed]  # the head's stays in force
    assert upstream_cache.is_commit_id("0" * 40) and not upstream_cache.is_commit_id("0" * 39 + "G")


def test_the_license_page_accepts_only_with_a_csrf_token(hub, mirror_settings):
    """The test client skips CSRF checks unless told: the page's POST without a token is refused."""
    repo_id, head = _rail_repo(mirror_settings)
    user, _ = _reader(hub, mirror_settings)
    version = hashlib.sha256(HEAD_TEXT.encode()).hexdigest()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    page = strict.get(f"/{repo_id}/license")
    assert page.status_code == 200 and version in page.content.decode()
    assert strict.post(f"/{repo_id}/license", {"version": version, "revision": head}).status_code == 403
    assert not MirrorLicenseAcknowledgment.objects.exists()
    csrf = strict.cookies["csrftoken"].value
    answer = strict.post(f"/{repo_id}/license", {"version": version, "revision": head, "csrfmiddlewaretoken": csrf})
    assert answer.status_code == 302
    assert MirrorLicenseAcknowledgment.objects.filter(user=user, text_id=version).exists()
