"""The real `huggingface_hub` client against a live server: gated downloads and every
access-request method (hub-api.md section 6)."""

import datetime as dt
import tempfile

import httpx2 as httpx
import pytest
import time_machine
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from gating.models import AccessRequest, AuditEvent
from registry.services import repo_settings_update
from tests.gating.conftest import ANSWERS, WEIGHTS_SECRET
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def download(token, filename="model.safetensors"):
    """A fresh cache each time: a cached copy would hide the server's refusal."""
    return hf_hub_download("acme/diffusion", filename, token=token, cache_dir=tempfile.mkdtemp(prefix="gh-gating-"))


def gated_error(token) -> GatedRepoError:
    with pytest.raises(GatedRepoError) as excinfo:
        download(token)
    return excinfo.value


def ask(hub, token, answers):
    return httpx.post(
        f"{hub}/acme/diffusion/ask-access", json=answers, headers={"Authorization": f"Bearer {token}"}
    )


def test_gated_download_follows_the_request_through_every_decision(hub, gated_repo, people, mailoutbox):
    owner = HfApi(token=token_for(people["owner"]))
    anonymous = gated_error(False)
    assert anonymous.response.status_code == 401
    assert "Please log in" in str(anonymous) and f"{hub}/acme/diffusion/ask-access" in str(anonymous)

    nina = UserFactory(username="nina")
    token = token_for(nina, role="read")
    unknown = gated_error(token)
    assert unknown.response.status_code == 403
    assert f"not in the authorized list. Visit {hub}/acme/diffusion/ask-access to ask for access" in str(unknown)

    assert ask(hub, token, ANSWERS).status_code == 201
    assert "awaiting review" in str(gated_error(token))

    owner.accept_access_request("acme/diffusion", "nina")
    with open(download(token), "rb") as handle:
        assert handle.read() == WEIGHTS_SECRET

    owner.reject_access_request("acme/diffusion", "nina", rejection_reason="Terms not met")
    rejected = gated_error(token)
    assert rejected.response.status_code == 403 and "rejected by the repo's authors. Reason: Terms not met" in str(
        rejected
    )

    owner.cancel_access_request("acme/diffusion", "nina")
    assert "awaiting review" in str(gated_error(token))

    # An expiring approval (Gatehouse's `expiresAt` extension of the handle route).
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    handled = httpx.post(
        f"{hub}/api/models/acme/diffusion/user-access-request/handle",
        json={"user": "nina", "status": "accepted", "expiresAt": expires},
        headers={"Authorization": f"Bearer {token_for(people['owner'])}"},
    )
    assert handled.status_code == 200 and handled.json()["expiresAt"].startswith(expires[:19])
    assert download(token)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=8), tick=True):
        expired = gated_error(token)
        assert expired.response.status_code == 403 and "your access expired at" in str(expired)
        assert f"Visit {hub}/acme/diffusion/ask-access to ask again" in str(expired)
        # An expired user may ask again; the repo is manual, so the request waits for review.
        assert ask(hub, token, ANSWERS).json()["status"] == "pending"
    actions = list(AuditEvent.objects.filter(subject=nina).order_by("pk").values_list("action", flat=True))
    assert actions == [
        "access.requested",
        "access.accepted",
        "access.rejected",
        "access.cancelled",
        "access.accepted",
        "access.requested",
    ]
    assert {mail.subject for mail in mailoutbox} >= {
        "Your request to access acme/diffusion was accepted",
        "Your request to access acme/diffusion was rejected",
        "Your access to acme/diffusion is back under review",
    }


def test_every_access_request_method_returns_the_request_with_its_answers(hub, gated_repo, people):
    api = HfApi(token=token_for(people["owner"]))
    [pending] = api.list_pending_access_requests("acme/diffusion")
    assert pending.username == "penny" and pending.status == "pending"
    assert pending.fields["Company"] == "Initech" and pending.fields["I agree to the terms"] is True
    assert pending.timestamp.tzinfo is not None and pending.email == "penny@example.org"

    api.accept_access_request("acme/diffusion", "penny")
    accepted = {request.username: request for request in api.list_accepted_access_requests("acme/diffusion")}
    assert set(accepted) == {"penny", "abe"} and accepted["penny"].fields == pending.fields

    api.reject_access_request("acme/diffusion", request_id=pending.request_id, rejection_reason="No")
    [rejected] = api.list_rejected_access_requests("acme/diffusion")
    assert (rejected.username, rejected.status, rejected.fields) == ("penny", "rejected", pending.fields)

    api.cancel_access_request("acme/diffusion", "penny")
    [back] = api.list_pending_access_requests("acme/diffusion")
    assert back.request_id == pending.request_id and back.fields == pending.fields

    granted = api.grant_access("acme/diffusion", "penny")
    assert granted["status"] == "accepted" and granted["fields"] == pending.fields
    newcomer = UserFactory(username="nina")
    fresh = api.grant_access("acme/diffusion", "nina")
    assert fresh["user"]["user"] == "nina" and fresh["fields"] == {} and fresh["granted"] is True
    assert download(token_for(newcomer))


def test_access_request_lists_are_paginated_with_absolute_links(hub, gated_repo, people, monkeypatch):
    from gating import api as gating_api

    monkeypatch.setattr(gating_api, "PAGE_SIZE", 7)
    now = dt.datetime.now(dt.UTC)
    users = [UserFactory() for _ in range(19)]
    AccessRequest.objects.bulk_create(
        AccessRequest(repo=gated_repo, user=user, status="pending", requested_at=now, fields={"n": n})
        for n, user in enumerate(users)
    )
    listed = list(HfApi(token=token_for(people["owner"])).list_pending_access_requests("acme/diffusion"))
    assert len(listed) == 20 and len({request.request_id for request in listed}) == 20


def test_refused_callers_and_bad_decisions_get_clear_errors_and_change_nothing(hub, gated_repo, people):
    owner_token = token_for(people["owner"])
    before = (list(AccessRequest.objects.values_list("pk", "status")), AuditEvent.objects.count())

    def status_of(call) -> int:
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        return excinfo.value.response.status_code

    stranger = HfApi(token=token_for(people["stranger"]))
    assert status_of(lambda: stranger.accept_access_request("acme/diffusion", "penny")) == 403
    assert status_of(lambda: list(stranger.list_pending_access_requests("acme/diffusion"))) == 403
    collaborator = HfApi(token=token_for(people["collaborator"]))  # a read member: no review right
    assert status_of(lambda: collaborator.grant_access("acme/diffusion", "stan")) == 403
    read_token = HfApi(token=token_for(people["owner"], role="read"))
    assert status_of(lambda: read_token.accept_access_request("acme/diffusion", "penny")) == 403
    anonymous = HfApi(token=False)
    assert status_of(lambda: anonymous.reject_access_request("acme/diffusion", "penny", rejection_reason=None)) == 401

    owner = HfApi(token=owner_token)
    assert status_of(lambda: owner.accept_access_request("acme/diffusion", "nobody")) == 404
    assert status_of(lambda: owner.accept_access_request("acme/diffusion", request_id="999999")) == 404
    assert status_of(lambda: owner.cancel_access_request("acme/diffusion", "penny")) == 404  # already pending
    assert status_of(lambda: owner.grant_access("acme/diffusion", "abe")) == 400  # already has access
    assert status_of(lambda: owner.grant_access("acme/diffusion", "nobody")) == 404
    assert status_of(lambda: owner.reject_access_request("acme/diffusion", "penny", rejection_reason="x" * 201)) == 400
    raw = httpx.post(
        f"{hub}/api/models/acme/diffusion/user-access-request/handle",
        json={"user": "penny", "status": "accepted", "note": "extra"},
        headers={"Authorization": f"Bearer {owner_token}"},
    )
    assert raw.status_code == 400 and raw.json() == {"error": "Unknown field(s): note.", "code": "BadRequest"}

    make_repo(people["org"], "open", {"config.json": b"{}"}, author=people["owner"])
    assert status_of(lambda: owner.grant_access("acme/open", "stan")) == 400
    assert status_of(lambda: list(owner.list_pending_access_requests("acme/open"))) == 400
    hidden = make_repo(people["owner"], "hidden", {"config.json": b"{}"}, private=True)
    repo_settings_update(repo=hidden, gated="manual")
    with pytest.raises(RepositoryNotFoundError):
        list(stranger.list_pending_access_requests("olivia/hidden"))
    assert (list(AccessRequest.objects.values_list("pk", "status")), AuditEvent.objects.count()) == before


def test_delegated_reviewers_review_but_do_not_manage(hub, gated_repo, people):
    from gating.services import reviewer_add

    reviewer_add(repo=gated_repo, actor=people["owner"], user=people["stranger"])
    api = HfApi(token=token_for(people["stranger"]))
    api.accept_access_request("acme/diffusion", "penny")
    assert AccessRequest.objects.get(user=people["pending"]).decided_by == people["stranger"]
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.update_repo_settings("acme/diffusion", gated="auto")
    assert excinfo.value.response.status_code == 403
    audit = httpx.get(
        f"{hub}/acme/diffusion/audit/export.json", headers={"Authorization": f"Bearer {token_for(people['stranger'])}"}
    )
    assert audit.status_code == 403
