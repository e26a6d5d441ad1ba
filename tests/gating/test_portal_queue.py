import json
from datetime import timedelta

import pytest
from django.utils import timezone

from gating.models import AccessRequest

pytestmark = pytest.mark.django_db


def test_form_page_queue_bulk_decisions_and_exports(client, alice, bob, gated_repo):
    from tests.support.builders import UserFactory

    client.force_login(bob)
    page = client.get("/alice/painter/ask-access")
    assert page.status_code == 200 and b"Request access to Painter" in page.content
    form = {"field_0": "Acme", "field_1": "FR", "field_2": "Research", "field_3": "on"}
    assert client.post("/alice/painter/ask-access", form).status_code == 302
    carol = UserFactory(username="carol")
    client.force_login(carol)
    client.post("/alice/painter/ask-access", {**form, "field_0": "=HYPERLINK(evil)"})

    client.force_login(alice)
    queue = client.get("/alice/painter/access-requests?status=pending")
    assert b"bob" in queue.content and b"Acme" in queue.content
    csv_text = b"".join(
        client.get("/alice/painter/access-requests?status=pending&export=csv").streaming_content
    ).decode()
    assert "Company" in csv_text and "'=HYPERLINK(evil)" in csv_text  # formulas neutralised
    ids = [row.request_id for row in AccessRequest.objects.all()]
    client.post("/alice/painter/access-requests", {"action": "accepted", "request": ids, "days": "30"})
    assert set(AccessRequest.objects.values_list("status", flat=True)) == {"accepted"}
    assert all(r.expires_at for r in AccessRequest.objects.all())
    exported = json.loads(
        b"".join(client.get("/alice/painter/access-requests?status=accepted&export=json").streaming_content)
    )
    assert {item["user"]["user"] for item in exported} == {"bob", "carol"}

    client.force_login(bob)
    assert client.get("/alice/painter/access-requests").status_code == 403


def test_an_export_sends_its_headers_before_reading_the_queue(client, alice, bob, gated_repo):
    """Status and headers go out on an empty first piece, before the query the CSV header needs
    (the answers' labels, read over the whole queue: about a second on 200,000 requests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)
    client.post(
        "/alice/painter/ask-access", {"field_0": "Acme", "field_1": "FR", "field_2": "Research", "field_3": "on"}
    )
    client.force_login(alice)
    for export in ("csv", "json"):
        response = client.get(f"/alice/painter/access-requests?export={export}")
        assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
        pieces = iter(response.streaming_content)
        with CaptureQueriesContext(connection) as captured:
            assert next(pieces) == b""
        assert len(captured) == 0
        with CaptureQueriesContext(connection) as captured:
            rest = b"".join(pieces)
        assert len(captured) > 0 and b"bob" in rest


def test_the_csv_header_needs_no_query_over_the_queue(client, alice, bob, gated_repo):
    """The header names the form's labels, then `otherAnswers` (answers to labels the form no
    longer asks, as JSON): it goes out before any query, where listing every label ever answered
    read the whole queue first (about a second on 200,000 requests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)
    client.post(
        "/alice/painter/ask-access", {"field_0": "Acme", "field_1": "FR", "field_2": "Research", "field_3": "on"}
    )
    AccessRequest.objects.filter(user=bob).update(fields={"Company": "Acme", "Retired question": "yes"})
    client.force_login(alice)
    pieces = iter(client.get("/alice/painter/access-requests?export=csv").streaming_content)
    assert next(pieces) == b""
    with CaptureQueriesContext(connection) as captured:
        header = next(pieces).decode()
    assert len(captured) == 0
    assert header.strip().endswith("Company,Country,Purpose,I agree to the terms,Website,otherAnswers")
    row = b"".join(pieces).decode()
    assert row.startswith("bob,") and ',Acme,,,,,"{""Retired question"": ""yes""}"' in row


def test_exports_read_the_queue_in_slices_once_each(client, alice, gated_repo, monkeypatch):
    """Slices of 2 rows, one query each, from below the last row's (created_at, pk): rows that share
    a creation time are neither skipped nor repeated at a slice's edge."""
    from gating import views
    from tests.support.builders import UserFactory

    monkeypatch.setattr(views, "EXPORT_ROWS_PER_QUERY", 2)
    same_time = timezone.now()
    for n in range(7):
        AccessRequest.objects.create(
            repo=gated_repo, user=UserFactory(username=f"asker-{n}"), fields={}, created_at=same_time
        )
    client.force_login(alice)
    csv_rows = b"".join(client.get("/alice/painter/access-requests?export=csv").streaming_content).decode()
    names = [line.split(",")[0] for line in csv_rows.splitlines()[1:]]
    assert sorted(names) == [f"asker-{n}" for n in range(7)]
    exported = json.loads(b"".join(client.get("/alice/painter/access-requests?export=json").streaming_content))
    assert [item["user"]["user"] for item in exported] == names


def test_validate_yaml_checks_the_access_form(client):
    bad = "---\nextra_gated_fields:\n  Purpose: {type: select}\n---\n"
    response = client.post("/api/validate-yaml", {"content": bad}, content_type="application/json")
    assert response.status_code == 400 and "select field needs" in response.json()["errors"][0]["message"]
    good = "---\nextra_gated_fields:\n  Company: text\n  Agree: checkbox\n---\n"
    assert client.post("/api/validate-yaml", {"content": good}, content_type="application/json").status_code == 200


def test_repo_page_shows_gate_state_and_release_plan(client, alice, bob, gated_repo):
    from gating import release

    later = timezone.now() + timedelta(days=30)
    release.release_plan_set(
        repo=gated_repo,
        actor=alice,
        stages=[
            release.StageSpec(mode="gated_manual", withheld_patterns=("*.safetensors",)),
            release.StageSpec(mode="public", scheduled_at=later),
        ],
    )
    client.force_login(bob)
    page = client.get("/alice/painter").content.decode()
    assert 'data-testid="ask-access"' in page and 'data-testid="release-plan"' in page and "*.safetensors" in page


def test_authors_set_visibility_and_gating_from_the_portal(client, alice, bob, gated_repo):
    from gating.models import AuditEvent
    from registry.models import Repo

    client.force_login(bob)
    assert client.post("/alice/painter/gating", {"action": "access", "gated": ""}).status_code == 403
    assert Repo.objects.get(pk=gated_repo.pk).gated == "manual"
    client.force_login(alice)
    audited = AuditEvent.objects.filter(repo=gated_repo, action="repo.update_settings").count()
    page = client.get("/alice/painter/gating").content.decode()
    assert 'data-testid="access-form"' in page and '<option value="manual" selected>' in page

    response = client.post("/alice/painter/gating", {"action": "access", "visibility": "public", "gated": "auto"})
    assert response.status_code == 302
    assert Repo.objects.get(pk=gated_repo.pk).gated == "auto"
    client.post("/alice/painter/gating", {"action": "access", "visibility": "private", "gated": ""})
    repo = Repo.objects.get(pk=gated_repo.pk)
    assert (repo.private, repo.gated) == (True, "")
    assert AuditEvent.objects.filter(repo=repo, action="repo.update_settings").count() == audited + 2

    client.post("/alice/painter/gating", {"action": "access", "gated": "auto"})  # no visibility: refused
    assert Repo.objects.get(pk=gated_repo.pk).private
    client.post("/alice/painter/gating", {"action": "access", "visibility": "public", "gated": "sideways"})
    assert Repo.objects.get(pk=gated_repo.pk).gated == ""  # refused with a message, nothing changed
    assert Repo.objects.get(pk=gated_repo.pk).private
    assert "must be false" in client.get("/alice/painter/gating").content.decode()


def test_a_bad_number_in_the_settings_form_is_flashed_by_name(client, alice, gated_repo):
    """Not Python's "invalid literal for int()": the edge names the field, nothing is saved."""
    client.force_login(alice)
    form = {"action": "notifications", "notify_mode": "daily", "auto_grant_days": "ten"}
    assert client.post("/alice/painter/gating", form).status_code == 302
    page = client.get("/alice/painter/gating").content.decode()
    assert "&#x27;auto_grant_days&#x27; must be a number." in page and "invalid literal" not in page
    form = {"action": "plan", "mode_0": "public", "at_0": "2027-02-31T12:00"}  # well-formed, impossible
    client.post("/alice/painter/gating", form)
    assert "Stage 1: the time must look like" in client.get("/alice/painter/gating").content.decode()


def test_the_settings_page_writes_nothing_when_read(client, alice, gated_repo):
    from gating.models import GatingConfig

    client.force_login(alice)
    assert client.get("/alice/painter/gating").status_code == 200
    assert not GatingConfig.objects.filter(repo=gated_repo).exists()  # defaults shown, no row made
