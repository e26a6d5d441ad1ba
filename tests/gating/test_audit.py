"""The audit trail: append-only, written with each decision, visible and exportable for the
repo's admins only."""

import csv
import io

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client

from gating.models import AccessRequest, AuditEvent, AuditImmutableError
from gating.services import access_requests_decide
from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(gated_repo):
    event = AuditEvent.objects.filter(repo=gated_repo).first()
    event.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only")
def test_postgres_refuses_raw_updates_and_deletes_of_audit_rows(gated_repo):
    event = AuditEvent.objects.filter(repo=gated_repo).first()
    for statement in ("UPDATE gating_auditevent SET reason = 'x' WHERE id = %s", "DELETE FROM gating_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


def test_deleting_a_repo_keeps_its_history(gated_repo):
    count = AuditEvent.objects.filter(repo_name="acme/diffusion").count()
    gated_repo.delete()
    assert count > 0 and AuditEvent.objects.filter(repo_name="acme/diffusion").count() == count


def test_a_failed_decision_records_nothing(gated_repo, people):
    before = AuditEvent.objects.count()
    request = AccessRequest.objects.get(user=people["pending"])
    with pytest.raises(Exception, match="already pending"):
        access_requests_decide(repo=gated_repo, actor=people["owner"], request_ids=[request.pk], status="pending")
    approved = AccessRequest.objects.get(user=people["approved"])
    with pytest.raises(Exception, match="already pending"):  # one good, one bad: neither changes
        access_requests_decide(
            repo=gated_repo, actor=people["owner"], request_ids=[approved.pk, request.pk], status="pending"
        )
    assert AuditEvent.objects.count() == before
    assert AccessRequest.objects.get(pk=approved.pk).status == "accepted"


def test_admins_read_and_export_the_trail_as_json_and_csv(gated_repo, people):
    request = AccessRequest.objects.get(user=people["pending"])
    access_requests_decide(
        repo=gated_repo, actor=people["owner"], request_ids=[request.pk], status="rejected", reason="=HYPERLINK(1)"
    )
    owner = Client()
    owner.force_login(people["owner"])
    page = owner.get("/acme/diffusion/audit")
    assert page.status_code == 200 and "access.rejected" in page.content.decode()
    exported = owner.get("/acme/diffusion/audit/export.json")
    assert exported["Content-Disposition"] == 'attachment; filename="diffusion-audit.json"'
    rows = exported.json()
    assert rows[0]["action"] == "access.rejected" and rows[0]["actor"] == "olivia" and rows[0]["subject"] == "penny"
    assert {row["action"] for row in rows} >= {"access.requested", "access.accepted", "access.rejected"}
    assert all(row["time"].endswith("Z") for row in rows)
    rows_csv = list(csv.DictReader(io.StringIO(owner.get("/acme/diffusion/audit/export.csv").content.decode())))
    assert rows_csv[0]["reason"] == "'=HYPERLINK(1)"  # spreadsheet formulas are neutralised
    # Scripts use a bearer token (write role) on the same URL.
    scripted = Client().get(
        "/acme/diffusion/audit/export.csv", HTTP_AUTHORIZATION=f"Bearer {token_for(people['owner'])}"
    )
    assert scripted.status_code == 200 and scripted["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("caller", ["anonymous", "stranger", "approved", "collaborator"])
def test_the_trail_is_for_admins_only(gated_repo, people, caller):
    client = Client()
    if caller != "anonymous":
        client.force_login(people[caller])
    for path in ("/acme/diffusion/audit", "/acme/diffusion/audit/export.json", "/acme/diffusion/access-requests"):
        response = client.get(path)
        assert response.status_code in (403, 404), path  # the portal shows 401 as 404
        assert b"penny" not in response.content and b"Initech" not in response.content
