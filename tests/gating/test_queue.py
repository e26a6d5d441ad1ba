"""The portal review queue: filters, answers, bulk decisions with reasons and expiry, grants,
exports, and the admins' settings (reviewers, notifications, gating mode)."""

import csv
import io

import pytest
from django.test import Client

from gating.models import AccessRequest, AuditEvent, GateConfig, RepoReviewer
from gating.services import access_request_submit
from registry.models import Repo
from tests.gating.conftest import ANSWERS
from tests.support.builders import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner_client(people):
    client = Client()
    client.force_login(people["owner"])
    return client


def test_queue_lists_answers_and_filters(owner_client, gated_repo, people):
    page = owner_client.get("/acme/diffusion/access-requests")
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "private, no-store"
    penny, abe = 'data-testid="request-penny"', 'data-testid="request-abe"'
    assert penny in html and "Initech" in html and abe not in html  # pending only by default
    accepted = owner_client.get("/acme/diffusion/access-requests?status=accepted").content.decode()
    assert abe in accepted and penny not in accepted
    searched = owner_client.get("/acme/diffusion/access-requests?status=all&q=penn").content.decode()
    assert penny in searched and abe not in searched


def test_bulk_decisions_with_reason_and_expiry(owner_client, gated_repo, people, mailoutbox):
    others = [UserFactory(username=f"bulk{n}") for n in range(3)]
    for user in others:
        access_request_submit(repo=gated_repo, user=user, answers=ANSWERS)
    mailoutbox.clear()
    ids = [str(request.pk) for request in AccessRequest.objects.filter(user__in=others[:2])]
    response = owner_client.post(
        "/acme/diffusion/access-requests", {"request": ids, "decision": "accepted", "days": "30", "reason": "ignored"}
    )
    assert response.status_code == 302
    accepted = AccessRequest.objects.filter(user__in=others[:2])
    assert {request.status for request in accepted} == {"accepted"}
    assert all(request.expires_at is not None and request.rejection_reason == "" for request in accepted)
    assert len(mailoutbox) == 2
    last = AccessRequest.objects.get(user=others[2])
    owner_client.post(
        "/acme/diffusion/access-requests", {"request": [last.pk], "decision": "rejected", "reason": "Incomplete"}
    )
    last.refresh_from_db()
    assert (last.status, last.rejection_reason, last.decided_by) == ("rejected", "Incomplete", people["owner"])
    assert "Reason: Incomplete" in mailoutbox[-1].body
    assert AuditEvent.objects.filter(action="access.accepted", subject__in=others[:2], actor=people["owner"]).count() == 2


def test_bad_portal_decisions_change_nothing(owner_client, gated_repo, people):
    penny = AccessRequest.objects.get(user=people["pending"])
    before = AuditEvent.objects.count()
    for data in (
        {"request": [penny.pk], "decision": "maybe"},
        {"request": [penny.pk], "decision": "accepted", "days": "forever"},
        {"request": ["999999"], "decision": "accepted"},
        {"decision": "accepted"},
        {"request": [penny.pk], "decision": "rejected", "reason": "r" * 201},
    ):
        response = owner_client.post("/acme/diffusion/access-requests", data, follow=True)
        assert response.status_code == 200 and response.context["messages"]
    assert AuditEvent.objects.count() == before and AccessRequest.objects.get(pk=penny.pk).status == "pending"


def test_non_reviewers_cannot_decide_in_the_portal(gated_repo, people):
    penny = AccessRequest.objects.get(user=people["pending"])
    for caller in ("stranger", "approved", "collaborator", "pending"):
        client = Client()
        client.force_login(people[caller])
        response = client.post("/acme/diffusion/access-requests", {"request": [penny.pk], "decision": "accepted"})
        assert response.status_code == 403
    assert Client().post("/acme/diffusion/access-requests", {"request": [penny.pk]}).status_code in (403, 404)
    assert AccessRequest.objects.get(pk=penny.pk).status == "pending"


def test_grant_and_access_report_exports(owner_client, gated_repo, people):
    UserFactory(username="gwen", fullname="Gwen G")
    owner_client.post("/acme/diffusion/access-requests", {"grant_user": "gwen", "days": "10"})
    granted = AccessRequest.objects.get(user__username="gwen")
    assert granted.status == "accepted" and granted.granted and granted.expires_at is not None
    report = owner_client.get("/acme/diffusion/access-requests/export.json").json()
    by_user = {row["user"]: row for row in report}
    assert set(by_user) == {"penny", "abe", "gwen"}
    assert by_user["penny"]["fields"]["Country"] == "FR" and by_user["abe"]["reviewedBy"] == "olivia"
    assert {"user", "fullname", "status", "email", "time", "reviewedAt"} <= set(by_user["gwen"])
    rows = list(csv.DictReader(io.StringIO(owner_client.get("/acme/diffusion/access-requests/export.csv").content.decode())))
    assert {row["user"] for row in rows} == {"penny", "abe", "gwen"} and '"Company": "Initech"' in rows[0]["fields"]


def test_admin_settings_reviewers_notifications_and_mode(owner_client, gated_repo, people):
    url = "/acme/diffusion/access-requests/settings"
    owner_client.post(url, {"op": "add_reviewer", "username": "stan"})
    assert RepoReviewer.objects.filter(repo=gated_repo, user=people["stranger"]).exists()
    reviewer = Client()
    reviewer.force_login(people["stranger"])
    assert reviewer.get("/acme/diffusion/access-requests").status_code == 200
    assert reviewer.post(url, {"op": "mode", "gated": "auto"}).status_code == 403  # reviewers do not manage
    owner_client.post(url, {"op": "remove_reviewer", "username": "stan"})
    assert reviewer.get("/acme/diffusion/access-requests").status_code == 403
    owner_client.post(url, {"op": "notifications", "notify_mode": "daily", "notify_email": "gate@acme.test"})
    assert GateConfig.objects.get(repo=gated_repo).notify_mode == "daily"
    owner_client.post(url, {"op": "mode", "gated": "auto"})
    assert Repo.objects.get(pk=gated_repo.pk).gated == "auto"
    actions = set(AuditEvent.objects.filter(repo=gated_repo).values_list("action", flat=True))
    assert {"reviewer.added", "reviewer.removed", "gate.notifications_changed", "gate.mode_changed"} <= actions


def test_repo_page_sidebar_tells_each_caller_where_they_stand(gated_repo, people):
    def sidebar(caller):
        client = Client()
        if caller:
            client.force_login(people[caller])
        return client.get("/acme/diffusion").content.decode()

    assert "Ask for access" in sidebar(None)
    assert "awaiting review" in sidebar("pending")
    assert "You have access" in sidebar("approved")
    assert "Access requests (1 pending)" in sidebar("owner") and "Audit trail" in sidebar("owner")
    assert "Access requests (" not in sidebar("approved")
