"""Bad input to the request form, notifications, and the append-only audit trail."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from gating import services
from gating.models import AccessRequest, AuditEvent
from gating.tasks import access_grants_expire_task, access_request_digest_task
from registry import services as registry_services
from tests.gating.conftest import ANSWERS
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db
Z_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _ask(client, repo_id, token, answers, **extra):
    return client.post(
        f"/{repo_id}/ask-access",
        data=json.dumps(answers),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )


@pytest.mark.parametrize(
    "answers, message",
    [
        ({**ANSWERS, "Favourite colour": "blue"}, "Unknown field"),
        ({k: v for k, v in ANSWERS.items() if k != "Company"}, "'Company' is required"),
        ({**ANSWERS, "Company": "x" * 501}, "longer than"),
        ({**ANSWERS, "Country": "Atlantis"}, "country code"),
        ({**ANSWERS, "Purpose": "Mischief"}, "must be one of"),
        ({**ANSWERS, "I agree to the terms": False}, "must be checked"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_recorded(client, gated_repo, bob, mail_sent_by, answers, message):
    with mail_sent_by() as sent:
        response = _ask(client, "alice/painter", token_for(bob), answers)
    assert response.status_code == 400 and message in response["X-Error-Message"]
    assert not AccessRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="access_request").exists()
    assert sent == []


def test_requests_on_ungated_private_or_own_repos_are_refused(client, alice, bob):
    make_repo(alice, "open")
    make_repo(alice, "hidden", private=True)
    assert _ask(client, "alice/open", token_for(bob), {}).status_code == 400
    hidden = _ask(client, "alice/hidden", token_for(bob), {})
    assert hidden.status_code == 404 and hidden["X-Error-Code"] == "RepoNotFound"
    assert _ask(client, "alice/hidden", token_for(alice), {}).status_code == 400
    assert not AccessRequest.objects.exists()


def test_browser_form_needs_csrf_but_bearer_json_does_not(gated_repo, bob):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post("/alice/painter/ask-access", {"field_0": "Acme"}).status_code == 403
    assert _ask(strict, "alice/painter", token_for(bob), ANSWERS).status_code == 201


def test_reviewers_are_mailed_on_new_requests_and_requesters_on_decisions(client, alice, bob, gated_repo, mail_sent_by):
    """Also shows that `mail_sent_by`, which the no-email assertions rely on, sees what is sent."""
    with mail_sent_by() as sent:
        assert _ask(client, "alice/painter", token_for(bob), ANSWERS).status_code == 201
    assert [m.to for m in sent] == [[alice.email]] and "Acme" in sent[0].body
    with mail_sent_by() as sent:
        services.access_request_decide(
            repo=gated_repo, reviewer=alice, status="rejected", user_name="bob", reason="Commercial use only"
        )
    assert [m.to for m in sent] == [[bob.email]] and "Commercial use only" in sent[0].body


def test_daily_digest_mode(client, alice, bob, gated_repo, mailoutbox, django_capture_on_commit_callbacks):
    services.gating_config_update(repo=gated_repo, actor=alice, notify_mode="daily")
    with django_capture_on_commit_callbacks(execute=True):
        _ask(client, "alice/painter", token_for(bob), ANSWERS)
    assert mailoutbox == []
    assert access_request_digest_task() == 1
    assert "bob" in mailoutbox[0].body
    assert access_request_digest_task() == 0  # at most one a day


def test_delegated_reviewer_can_review_until_removed(client, alice, bob, gated_repo):
    from tests.support.builders import UserFactory

    reviewer = UserFactory(username="rita")
    _ask(client, "alice/painter", token_for(bob), ANSWERS)
    url = "/api/models/alice/painter/user-access-request/pending"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(reviewer)}").status_code == 403
    services.reviewer_add(repo=gated_repo, actor=alice, user=reviewer)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(reviewer)}").json()[0]["user"]["user"] == "bob"
    services.reviewer_remove(repo=gated_repo, actor=alice, user=reviewer)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token_for(reviewer)}").status_code == 403


def test_reset_lets_a_rejected_user_ask_again(client, alice, bob, gated_repo):
    _ask(client, "alice/painter", token_for(bob), ANSWERS)
    services.access_request_decide(repo=gated_repo, reviewer=alice, status="rejected", user_name="bob")
    assert _ask(client, "alice/painter", token_for(bob), ANSWERS).status_code == 403
    services.access_request_reset(repo=gated_repo, reviewer=alice, user_name="bob")
    assert _ask(client, "alice/painter", token_for(bob), ANSWERS).status_code == 201


def test_audit_trail_is_append_only_and_exportable(client, alice, bob, gated_repo):
    _ask(client, "alice/painter", token_for(bob), ANSWERS)
    event = AuditEvent.objects.filter(action="access_request.create").get()
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE gating_auditevent SET action = 'forged'")
    registry_services.repo_delete(repo=gated_repo)  # the trail outlives the repo
    assert AuditEvent.objects.filter(repo_label="model:alice/painter").count() >= 2


def test_audit_export_for_admins_only(client, alice, bob, gated_repo):
    _ask(client, "alice/painter", token_for(bob), ANSWERS)
    client.force_login(alice)
    exported = client.get("/alice/painter/audit?export=json").json()
    assert {"access_request.create", "repo.update_settings"} <= {e["action"] for e in exported}
    csv_text = client.get("/alice/painter/audit?export=csv").content.decode()
    assert csv_text.startswith("time,action,actor") and "access_request.create" in csv_text
    client.force_login(bob)
    assert client.get("/alice/painter/audit?export=json").status_code == 403


def _export(client, url: str, kind: str):
    response = client.get(f"{url}export={kind}")
    body = b"".join(response.streaming_content) if response.streaming else response.content  # the queue's are streamed
    return json.loads(body) if kind == "json" else list(csv.DictReader(io.StringIO(body.decode())))


def test_exports_write_z_times_and_csv_agrees_with_json(client, alice, bob, gated_repo):
    services.access_grant(
        repo=gated_repo, reviewer=alice, user=bob, has_role=False, expires_at=timezone.now() + timedelta(days=3)
    )
    client.force_login(alice)
    audit_json, audit_csv = (_export(client, "/alice/painter/audit?", kind) for kind in ("json", "csv"))
    assert [row["time"] for row in audit_csv] == [item["time"] for item in audit_json]
    grant = next(item for item in audit_json if item["action"] == "access_grant.create")
    assert Z_TIME.match(grant["data"]["expires_at"]) and all(Z_TIME.match(row["time"]) for row in audit_csv)

    queue = "/alice/painter/access-requests?status=accepted&"
    (request_json,), (request_csv,) = (_export(client, queue, kind) for kind in ("json", "csv"))
    assert (request_csv["time"], request_csv["expiresAt"]) == (request_json["timestamp"], request_json["expiresAt"])
    assert Z_TIME.match(request_csv["time"]) and Z_TIME.match(request_csv["expiresAt"])


def test_expiry_is_recorded_once(alice, bob, gated_repo, time_machine):
    services.access_grant(
        repo=gated_repo, reviewer=alice, user=bob, has_role=False, expires_at=timezone.now() + timedelta(hours=1)
    )
    time_machine.move_to(timezone.now() + timedelta(hours=2), tick=False)
    assert access_grants_expire_task() == 1
    assert access_grants_expire_task() == 0
    assert AuditEvent.objects.filter(action="access_grant.expire").count() == 1
