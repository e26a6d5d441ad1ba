"""The real client against gated repos: errors, approval, rejection, cancel, grants, expiry."""

import json
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from gating.models import AccessRequest, AuditEvent
from registry import services
from tests.gating.conftest import ANSWERS
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def ask_access(hub: str, repo_id: str, token: str, answers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        f"{hub}/{repo_id}/ask-access",
        data=json.dumps(answers).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def download(token=None, revision="main"):
    """A fresh cache each time: the client falls back to cached files when access is refused."""
    return hf_hub_download(
        "alice/painter",
        "config.json",
        token=token,
        revision=revision,
        cache_dir=tempfile.mkdtemp(prefix="gated-cache-"),
    )


@pytest.mark.s3
def test_manual_gating_end_to_end(hub, alice, bob, gated_repo):
    bob_token = token_for(bob, role="read")  # enough to download once approved
    owner = HfApi(token=token_for(alice))

    with pytest.raises(GatedRepoError) as anonymous:
        download()
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as stranger:
        download(bob_token)
    assert stranger.value.response.status_code == 403
    assert "not requested access yet" in str(stranger.value) and "/alice/painter/ask-access" in str(stranger.value)
    assert HfApi(token=bob_token).model_info("alice/painter").gated == "manual"  # metadata stays visible

    # Asking records a request in bob's name and mails the reviewers: a write, which a read token
    # cannot make (the Hub takes requests from the browser only, hub-behaviour.md).
    status, body = ask_access(hub, "alice/painter", bob_token, ANSWERS)
    assert status == 403 and "This token is read-only" in body["error"] and not AccessRequest.objects.exists()
    status, body = ask_access(hub, "alice/painter", token_for(bob), ANSWERS)
    assert status == 201 and body["status"] == "pending"
    with pytest.raises(GatedRepoError, match="pending review"):
        download(bob_token)

    pending = list(owner.list_pending_access_requests("alice/painter"))
    assert [(r.username, r.status) for r in pending] == [("bob", "pending")]
    assert pending[0].fields == {**ANSWERS, "Country": "FR"} and pending[0].email == bob.email

    owner.accept_access_request("alice/painter", "bob")
    assert open(download(bob_token), "rb").read() == b"{}"  # noqa: SIM115
    with pytest.raises(HfHubHTTPError) as accepted_twice:  # as on the Hub: a 404, and nothing changes
        owner.accept_access_request("alice/painter", "bob")
    assert accepted_twice.value.response.status_code == 404
    assert "already in the accepted list" in str(accepted_twice.value)
    accepted = list(owner.list_accepted_access_requests("alice/painter"))
    assert accepted[0].username == "bob" and accepted[0].fields["Company"] == "Acme"

    owner.reject_access_request("alice/painter", "bob", rejection_reason="Not a research use")
    with pytest.raises(GatedRepoError, match="Not a research use"):
        download(bob_token, revision="main")
    assert list(owner.list_rejected_access_requests("alice/painter"))[0].fields["Purpose"] == "Research"
    assert ask_access(hub, "alice/painter", token_for(bob), ANSWERS)[0] == 403  # rejected users cannot ask again

    owner.cancel_access_request("alice/painter", "bob")  # back to pending
    with pytest.raises(GatedRepoError, match="pending"):
        download(bob_token)
    with pytest.raises(HfHubHTTPError) as already:
        owner.cancel_access_request("alice/painter", "bob")
    assert already.value.response.status_code == 404

    carol = UserFactory(username="carol")
    owner.grant_access("alice/painter", "carol")
    assert open(download(token_for(carol)), "rb").read() == b"{}"  # noqa: SIM115
    with pytest.raises(HfHubHTTPError) as twice:
        owner.grant_access("alice/painter", "carol")
    assert twice.value.response.status_code == 400
    # carol never asked, so she shared no email with the authors: the Hub lists none.
    assert [(r.username, r.email) for r in owner.list_accepted_access_requests("alice/painter")] == [("carol", None)]
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        "repo.update_settings",
        "access_request.create",
        "access_request.accept",
        "access_request.reject",
        "access_request.cancel",
        "access_grant.create",
    ]


def test_time_limited_grant_expires_and_the_user_may_ask_again(hub, alice, bob, gated_repo, time_machine):
    bob_token = token_for(bob)
    ask_access(hub, "alice/painter", bob_token, ANSWERS)
    expires = datetime.now(UTC) + timedelta(hours=1)
    # the client's accept_access_request has no expiry argument: Gatehouse's `expiresAt` on the same route
    request = urllib.request.Request(  # noqa: S310
        f"{hub}/api/models/alice/painter/user-access-request/handle",
        method="POST",
        data=json.dumps({"user": "bob", "status": "accepted", "expiresAt": expires.isoformat()}).encode(),
        headers={"Authorization": f"Bearer {token_for(alice)}", "Content-Type": "application/json"},
    )
    response = urllib.request.urlopen(request)  # noqa: S310
    assert response.status == 200
    assert open(download(bob_token), "rb").read() == b"{}"  # noqa: SIM115
    time_machine.move_to(time.time() + 7200, tick=True)
    with pytest.raises(GatedRepoError, match="expired"):
        download(bob_token)
    status, body = ask_access(hub, "alice/painter", bob_token, ANSWERS)
    assert status == 201 and body["status"] == "pending"


def test_auto_gating_approves_at_once(hub, alice, bob, gated_repo):
    services.repo_settings_update(repo=gated_repo, gated="auto")
    bob_token = token_for(bob)
    with pytest.raises(GatedRepoError):
        download(bob_token)
    status, body = ask_access(hub, "alice/painter", bob_token, ANSWERS)
    assert status == 201 and body["status"] == "accepted"
    assert open(download(bob_token), "rb").read() == b"{}"  # noqa: SIM115
    assert AccessRequest.objects.get(user=bob).decided_by is None


def test_reviewer_routes_refuse_non_reviewers_and_ungated_repos(hub, alice, bob, gated_repo):
    from tests.support.builders import make_repo

    ask_access(hub, "alice/painter", token_for(bob), ANSWERS)
    for token in (token_for(bob), token_for(alice, role="read")):
        with pytest.raises(HfHubHTTPError) as refused:
            HfApi(token=token).accept_access_request("alice/painter", "bob")
        assert refused.value.response.status_code == 403
    make_repo(alice, "open")
    with pytest.raises(HfHubHTTPError) as ungated:
        list(HfApi(token=token_for(alice)).list_pending_access_requests("alice/open"))
    assert ungated.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as unknown:
        HfApi(token=token_for(alice)).accept_access_request("alice/painter", "nobody")
    assert unknown.value.response.status_code == 404
    assert AccessRequest.objects.get(user=bob).status == "pending"
