"""Asking for access at /{repo_id}/ask-access: the browser form, the JSON API with a bearer
token, the card's form validated server-side, and every bad input refused with nothing recorded."""

import json

import pytest
from django.test import Client

from gating.models import AccessRequest, AuditEvent
from gating.services import access_requests_decide
from registry.services import repo_settings_update
from tests.gating.conftest import ANSWERS
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def ask(client, repo_path, body, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(f"{repo_path}/ask-access", data=json.dumps(body), content_type="application/json", **headers)


def nothing_recorded(repo, user, mailoutbox):
    return (
        not AccessRequest.objects.filter(repo=repo, user=user).exists()
        and not AuditEvent.objects.filter(repo=repo, subject=user).exists()
        and mailoutbox == []
    )


def test_manual_request_with_a_token_is_queued_and_reviewers_are_emailed(client, gated_repo, people, mailoutbox):
    newcomer = UserFactory(username="nina", fullname="Nina N")
    response = ask(client, "/acme/diffusion", ANSWERS, token_for(newcomer, role="read"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["user"]["user"] == "nina"
    assert body["fields"] == {**ANSWERS, "I agree to the terms": True}
    assert body["timestamp"].endswith("Z")
    request = AccessRequest.objects.get(repo=gated_repo, user=newcomer)
    assert request.status == "pending"
    assert AuditEvent.objects.filter(repo=gated_repo, subject=newcomer, action="access.requested").count() == 1
    assert [mail.to for mail in mailoutbox] == [[people["owner"].email]]
    assert "nina asked for access to acme/diffusion" in mailoutbox[0].body
    assert "Company: Initech" in mailoutbox[0].body
    # Asking again changes nothing and answers 200 with the same request.
    again = ask(client, "/acme/diffusion", ANSWERS, token_for(newcomer))
    assert again.status_code == 200 and again.json()["requestId"] == body["requestId"]
    assert AuditEvent.objects.filter(subject=newcomer).count() == 1


def test_auto_mode_approves_at_once_and_tells_the_requester(client, gated_repo, mailoutbox):
    repo_settings_update(repo=gated_repo, gated="auto")
    newcomer = UserFactory(username="nina")
    response = ask(client, "/acme/diffusion", ANSWERS, token_for(newcomer))
    assert response.status_code == 201 and response.json()["status"] == "accepted"
    assert [event.action for event in AuditEvent.objects.filter(subject=newcomer).order_by("pk")] == [
        "access.requested",
        "access.accepted",
    ]
    assert [mail.to for mail in mailoutbox] == [["nina@example.org"]]
    assert "You can now download" in mailoutbox[0].body


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({**ANSWERS, "Favourite colour": "blue"}, "unknown field 'Favourite colour'"),
        ({key: value for key, value in ANSWERS.items() if key != "Company"}, "'Company' is required"),
        ({**ANSWERS, "I agree to the terms": False}, "'I agree to the terms' is required (tick the box)"),
        ({**ANSWERS, "Company": "x" * 501}, "'Company' is too long (501 characters; at most 500)"),
        ({**ANSWERS, "Tell us more": "y" * 5001}, "'Tell us more' is too long"),
        ({**ANSWERS, "Country": "Atlantis"}, "'Country' must be an ISO 3166-1 alpha-2 country code"),
        ({**ANSWERS, "Start date": "31/01/2030"}, "'Start date' must be a date as YYYY-MM-DD"),
        ({**ANSWERS, "Intended use": "Mischief"}, "'Intended use' must be one of Research, Education, other"),
        ({**ANSWERS, "Company": ["a", "list"]}, "'Company' must be a string"),
        ({**ANSWERS, "Tell us more": "z" * 40_000}, "too large"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_recorded(client, gated_repo, mailoutbox, answers, message):
    newcomer = UserFactory(username="nina")
    response = ask(client, "/acme/diffusion", answers, token_for(newcomer))
    assert response.status_code == 400
    assert response["X-Error-Code"] == "BadRequest" and response["Content-Type"] == "application/json"
    assert message in response.json()["error"]
    assert nothing_recorded(gated_repo, newcomer, mailoutbox)


def test_requests_on_ungated_private_and_missing_repos_or_without_a_token(client, people, gated_repo, mailoutbox):
    newcomer = UserFactory(username="nina")
    token = token_for(newcomer)
    make_repo(people["org"], "open", {"config.json": b"{}"}, author=people["owner"])
    response = ask(client, "/acme/open", {}, token)
    assert response.status_code == 400 and "not a gated repo" in response.json()["error"]
    hidden = make_repo(people["org"], "hidden", {"config.json": b"{}"}, author=people["owner"], private=True)
    repo_settings_update(repo=hidden, gated="manual")
    private = ask(client, "/acme/hidden", ANSWERS, token)
    missing = ask(client, "/acme/nothing-here", ANSWERS, token)
    assert private.status_code == missing.status_code == 404
    assert private.content == missing.content and private["X-Error-Code"] == "RepoNotFound"
    anonymous = ask(client, "/acme/diffusion", ANSWERS)
    assert anonymous.status_code == 401 and anonymous["X-Error-Code"] == "AuthenticationRequired"
    bad_json = client.post(
        "/acme/diffusion/ask-access", data=b"{nope", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert bad_json.status_code == 400
    assert not AccessRequest.objects.filter(user=newcomer).exists()
    assert not AuditEvent.objects.filter(subject=newcomer).exists() and mailoutbox == []


def test_rejected_users_cannot_ask_again_until_reset_and_expired_users_may(client, gated_repo, people, mailoutbox):
    penny = people["pending"]
    request = AccessRequest.objects.get(repo=gated_repo, user=penny)
    access_requests_decide(
        repo=gated_repo, actor=people["owner"], request_ids=[request.pk], status="rejected", reason="Not a company"
    )
    refused = ask(client, "/acme/diffusion", ANSWERS, token_for(penny))
    assert refused.status_code == 403
    assert "rejected by the repo's authors. Reason: Not a company" in refused.json()["error"]
    access_requests_decide(repo=gated_repo, actor=people["owner"], request_ids=[request.pk], status="reset")
    assert ask(client, "/acme/diffusion", ANSWERS, token_for(penny)).status_code == 201
    assert AccessRequest.objects.get(pk=request.pk).status == "pending"


def test_browser_form_needs_a_session_and_a_csrf_token(gated_repo, people, mailoutbox):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["stranger"])
    page = strict.get("/acme/diffusion/ask-access")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Request access to Acme Diffusion" in html and "Send my request" in html
    assert "<strong>not</strong>" in html  # the prompt is Markdown, rendered and sanitised
    form = {"field_0": "Initech", "field_1": "FR", "field_2": "Research", "field_4": "2030-01-31", "field_5": "on"}
    forged = strict.post("/acme/diffusion/ask-access", data=form)
    assert forged.status_code == 403
    assert not AccessRequest.objects.filter(user=people["stranger"]).exists()
    form["csrfmiddlewaretoken"] = page.context["csrf_token"]
    sent = strict.post("/acme/diffusion/ask-access", data=form)
    assert sent.status_code == 302 and sent["Location"] == "/acme/diffusion/ask-access"
    assert AccessRequest.objects.get(user=people["stranger"]).fields["Company"] == "Initech"
    assert "awaiting review" in strict.get("/acme/diffusion/ask-access").content.decode()


def test_browser_form_shows_errors_and_anonymous_visitors_are_sent_to_log_in(client, gated_repo, people):
    anonymous = client.post("/acme/diffusion/ask-access", data={"field_0": "x"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login?next=")
    client.force_login(people["stranger"])
    response = client.post("/acme/diffusion/ask-access", data={"field_0": "Initech"})
    assert response.status_code == 400
    assert "&#x27;Country&#x27; is required" in response.content.decode()
    assert not AccessRequest.objects.filter(user=people["stranger"]).exists()


def test_the_form_description_is_readable_as_json(client, gated_repo, people):
    response = client.get(
        "/acme/diffusion/ask-access", HTTP_AUTHORIZATION=f"Bearer {token_for(people['pending'])}"
    )
    body = response.json()
    assert body["gated"] == "manual" and body["status"] == "pending"
    fields = {field["label"]: field for field in body["form"]["fields"]}
    assert fields["Intended use"]["options"] == ["Research", "Education", "other"]
    assert fields["Tell us more"]["required"] is False and fields["Country"]["type"] == "country"
