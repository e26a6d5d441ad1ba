"""Contributors without write access draw every byte they send to pull requests from one daily
quota (GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY): Xet xorbs and shards (tests/xet/test_access.py),
inline files of the commit endpoint, the portal's pull request form, and LFS uploads (charged
by declared size when the batch hands out the URL). Writers are not charged: they may commit to
the repo anyway."""

import base64
import hashlib
import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from community.models import Discussion
from registry.models import Ref
from registry.storage import get_storage
from tests.support.builders import token_for

pytestmark = pytest.mark.django_db

QUOTA = 150_000


@pytest.fixture(autouse=True)
def _small_quota(settings):
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = QUOTA


def _inline_commit(client: Client, user, revision: str, content: bytes, *, create_pr: bool = False):
    body = "\n".join(
        json.dumps(line)
        for line in (
            {"key": "header", "value": {"summary": "Weights"}},
            {"key": "file", "value": {"path": f"{len(content)}.bin", "content": base64.b64encode(content).decode()}},
        )
    )
    return client.post(
        f"/api/models/alice/model/commit/{revision}" + ("?create_pr=1" if create_pr else ""),
        body,
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token_for(user)}",
    )


def _portal_pull_request(user, content: bytes, directory: str = ""):
    client = Client()
    client.force_login(user)
    return client.post(
        "/alice/model/discussions/new",
        {
            "type": "pull_request",
            "title": "Weights",
            "description": "Retrained",
            "directory": directory,
            "files": [SimpleUploadedFile("weights.bin", content)],
        },
    )


def _stored(content: bytes) -> bool:
    return get_storage().exists(hashlib.sha256(content).hexdigest())


def test_inline_files_a_contributor_commits_draw_from_the_quota(client, model, alice, bob):
    first, second = os.urandom(100_000), os.urandom(100_000)
    assert _inline_commit(client, bob, "main", first, create_pr=True).status_code == 200
    head = Ref.objects.get(repo=model, name="refs/pr/1").commit_oid

    refused = _inline_commit(client, bob, "refs/pr/1", second)
    assert refused.status_code == 429 and refused["X-Error-Code"] == "RateLimited"
    assert refused["RateLimit-Policy"] == f'"fixed window";"api";q={QUOTA};w=86400'
    assert refused["RateLimit"].startswith('"api";r=0;t=') and refused.has_header("Retry-After")
    assert "bytes uploaded to pull requests" in refused.json()["error"]
    assert Ref.objects.get(repo=model, name="refs/pr/1").commit_oid == head and not _stored(second)
    # Opening another pull request with it is refused the same way, and opens none.
    assert _inline_commit(client, bob, "main", second, create_pr=True).status_code == 429
    assert Discussion.objects.filter(repo=model).count() == 1 and not _stored(second)
    # Writers are not charged.
    assert _inline_commit(client, alice, "main", second, create_pr=True).status_code == 200


def test_the_portal_pull_request_form_draws_from_the_same_quota(client, model, alice, bob):
    first, second = os.urandom(100_000), os.urandom(60_000)
    assert _portal_pull_request(bob, first).status_code == 302

    refused = _portal_pull_request(bob, second)
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "bytes uploaded to pull requests" in page and 'value="Weights"' in page
    assert Discussion.objects.filter(repo=model).count() == 1 and not _stored(second)
    # One quota, whichever way the bytes come: the API refuses what the form used up.
    assert _inline_commit(client, bob, "main", second, create_pr=True).status_code == 429
    assert _portal_pull_request(alice, second).status_code == 302 and _stored(second)


def test_a_form_refused_for_its_paths_uses_no_quota(model, bob):
    content = os.urandom(100_000)
    assert _portal_pull_request(bob, content, directory="../escape").status_code == 400
    assert _portal_pull_request(bob, content).status_code == 302  # the refused 100 kB were not charged


def _lfs_batch(client: Client, token: str, sizes: list[int]):
    objects = [{"oid": hashlib.sha256(os.urandom(8)).hexdigest(), "size": size} for size in sizes]
    body = {"operation": "upload", "transfers": ["basic"], "objects": objects}
    return client.post(
        "/alice/model.git/info/lfs/objects/batch",
        json.dumps(body),
        content_type="application/vnd.git-lfs+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_contributors_lfs_upload_urls_draw_from_their_quota(client, model, bob):
    """Each object's declared size is charged before its URL is handed out; past the quota the
    object gets the reason instead of a URL (the others of the batch are unaffected)."""
    first = _lfs_batch(client, token_for(bob), [100_000, 100_000]).json()["objects"]
    assert "/lfs/objects/" in first[0]["actions"]["upload"]["href"]
    assert first[1]["error"]["code"] == 429 and "uploaded to pull requests" in first[1]["error"]["message"]
    assert "actions" not in first[1]
    # A read token may not take part: no URLs at all.
    refused = _lfs_batch(client, token_for(bob, role="read"), [10])
    assert refused.status_code == 403 and b"/lfs/objects/" not in refused.content
