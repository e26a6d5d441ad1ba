"""A delegated reviewer cannot decide their own access request.

The attack: the owner delegates review of a gated repo to Rita, who has no access of her own.
Rita asks for access, then accepts her own request (or grants herself access, or resets her own
rejection) through the Hub API or the portal's queue, and downloads the weights.
"""

import json

import pytest
from django.test import Client

from gating import services
from gating.models import AccessRequest
from registry import services as registry_services
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = pytest.mark.django_db
API = "/api/models/alice/painter/user-access-request"


@pytest.fixture
def rita(alice):
    repo = make_repo(alice, "painter", {"model.safetensors": b"\0" * 64})
    registry_services.repo_settings_update(repo=repo, gated="manual", actor=alice)
    rita = UserFactory(username="rita")
    services.reviewer_add(repo=repo, actor=alice, user=rita)
    Client().post(
        "/alice/painter/ask-access",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(rita)}",
    )
    assert AccessRequest.objects.get(user=rita).status == "pending"
    return rita


def _post(user, route: str, body: dict):
    return Client().post(
        f"{API}/{route}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(user)}",
    )


def _download(user) -> int:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"}
    return Client().get("/alice/painter/resolve/main/model.safetensors", **headers).status_code


def test_reviewer_cannot_accept_own_request_through_the_api(rita):
    response = _post(rita, "handle", {"user": "rita", "status": "accepted"})
    assert response.status_code == 403
    assert "your own access request" in response["X-Error-Message"]
    assert AccessRequest.objects.get(user=rita).status == "pending"
    assert _download(rita) == 403


def test_reviewer_cannot_grant_themselves_access(rita):
    assert _post(rita, "grant", {"user": "rita"}).status_code == 403
    assert AccessRequest.objects.get(user=rita).status == "pending"
    assert _download(rita) == 403


def test_reviewer_cannot_reset_own_rejection(alice, rita):
    _post(alice, "handle", {"user": "rita", "status": "rejected"})
    assert _post(rita, "reset", {"user": "rita"}).status_code == 403
    assert AccessRequest.objects.get(user=rita).status == "rejected"


def test_reviewer_cannot_accept_own_request_in_the_portal(rita):
    browser = Client()
    browser.force_login(rita)
    row = AccessRequest.objects.get(user=rita)
    response = browser.post("/alice/painter/access-requests", {"action": "accepted", "request": f"{row.pk:x}"})
    assert response.status_code == 302
    assert AccessRequest.objects.get(user=rita).status == "pending"
    assert _download(rita) == 403


def test_reviewer_still_decides_other_requests(rita, bob):
    Client().post(
        "/alice/painter/ask-access",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert _post(rita, "handle", {"user": "bob", "status": "accepted"}).status_code == 200
    assert _download(bob) == 200
