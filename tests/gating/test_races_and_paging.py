"""Checks that complement the gating suite: two beat ticks that really overlap inside a stage
transition, access-request lists long enough to need `Link` pagination, the anonymous refusal
naming where to ask, and `grant_access` returning the request with its form answers."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from huggingface_hub import HfApi

from gating import release
from gating.models import AccessRequest, AuditEvent
from tests.gating.conftest import ANSWERS
from tests.support.builders import UserFactory, make_repo, token_for
from tests.support.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises writers")
def test_overlapping_beat_ticks_apply_a_due_stage_once(alice, monkeypatch):
    """Both ticks start together and the first one lingers inside the transition, so the second
    runs while the first still holds the plan: it must skip it, not apply the stage again."""
    start = timezone.now()
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    release.release_plan_set(
        repo=repo,
        actor=alice,
        stages=[release.StageSpec(mode="private"), release.StageSpec(mode="public", scheduled_at=start)],
    )
    real_apply = release._apply

    def lingering_apply(*args, **kwargs):
        stage = real_apply(*args, **kwargs)
        threading.Event().wait(0.5)
        return stage

    monkeypatch.setattr(release, "_apply", lingering_apply)
    results = run_at_once(lambda: release.release_apply_due(now=start + timedelta(seconds=1)))
    assert sorted(results) == [0, 1]
    applied = AuditEvent.objects.filter(repo_id=repo.pk, action="release.stage_apply", data__position=1)
    assert applied.count() == 1
    repo.refresh_from_db()
    assert not repo.private


def test_access_request_lists_follow_link_pagination(hub, alice, gated_repo, settings):
    settings.GATEHOUSE_LIST_PAGE_SIZE = 7  # the live server reads it per request
    now = timezone.now()
    users = [UserFactory() for _ in range(20)]
    AccessRequest.objects.bulk_create(
        AccessRequest(repo=gated_repo, user=user, fields={"n": n}, created_at=now - timedelta(minutes=n))
        for n, user in enumerate(users)
    )
    listed = list(HfApi(token=token_for(alice)).list_pending_access_requests("alice/painter"))
    assert len(listed) == 20 and {request.username for request in listed} == {user.username for user in users}
    assert sorted(request.fields["n"] for request in listed) == list(range(20))


def test_anonymous_refusal_names_the_page_to_ask_for_access(hub, gated_repo, settings):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download("alice/painter", "config.json", token=False)
    assert refused.value.response.status_code == 401
    assert "Please log in" in str(refused.value)
    assert f"{settings.GATEHOUSE_PUBLIC_URL}/alice/painter/ask-access" in str(refused.value)


def test_grant_access_returns_the_request_with_its_answers(hub, client, alice, bob, gated_repo):
    response = client.post(
        "/alice/painter/ask-access",
        data=ANSWERS,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert response.status_code == 201
    granted = HfApi(token=token_for(alice)).grant_access("alice/painter", "bob")
    assert granted["status"] == "accepted" and granted["user"]["user"] == "bob"
    assert granted["fields"] == {**ANSWERS, "Country": "FR"} and granted["timestamp"].endswith("Z")
