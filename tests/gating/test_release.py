"""Staged release: scheduled transitions fire once when due (time controlled, beat ticks racing),
withheld files stay withheld until their stage, and authors advance, pause and roll back."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from gating import services
from gating.models import AuditEvent, ReleasePlan
from gating.services import StageSpec
from gating.tasks import release_apply_due_task
from registry.models import Repo
from tests.gating.conftest import WEIGHTS_SECRET
from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)

T0 = dt.datetime(2031, 3, 1, 9, 0, tzinfo=dt.UTC)
LAUNCH = T0 + dt.timedelta(days=7)
OPEN = T0 + dt.timedelta(days=30)


def plan_launch(repo, owner):
    """private now -> gated manual with weights withheld at LAUNCH -> public at OPEN."""
    services.release_plan_set(
        repo=repo,
        actor=owner,
        stages=[
            StageSpec(mode="private"),
            StageSpec(mode="manual", scheduled_at=LAUNCH, withheld_patterns=["*.safetensors"], note="card first"),
            StageSpec(mode="public", scheduled_at=OPEN),
        ],
    )
    services.release_advance(repo=repo, actor=owner)


def applied_events(repo):
    return list(
        AuditEvent.objects.filter(repo=repo, action="release.stage_applied")
        .order_by("pk")
        .values_list("data__stage", "data__trigger")
    )


def weights_status(token) -> int:
    response = Client().get(
        "/acme/diffusion/resolve/main/model.safetensors", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    if response.status_code == 200:
        assert b"".join(response.streaming_content) == WEIGHTS_SECRET
    return response.status_code


def test_scheduled_stage_fires_once_when_due(gated_repo, people, tokens):
    with time_machine.travel(T0, tick=False):
        plan_launch(gated_repo, people["owner"])
        assert Repo.objects.get(pk=gated_repo.pk).private
        assert release_apply_due_task() == 0  # nothing due yet
    with time_machine.travel(LAUNCH - dt.timedelta(seconds=1), tick=False):
        assert release_apply_due_task() == 0
    with time_machine.travel(LAUNCH, tick=False):
        assert release_apply_due_task() == 1
        assert release_apply_due_task() == 0  # a second tick finds nothing to do
        repo = Repo.objects.get(pk=gated_repo.pk)
        assert (repo.private, repo.gated) == (False, "manual")
        # Withheld: the approved user still gets a GatedRepo refusal for the weights; the card is public.
        assert weights_status(tokens["approved"]) == 403
        assert weights_status(tokens["collaborator"]) == 200
        assert Client().get("/acme/diffusion").status_code == 200
    with time_machine.travel(OPEN + dt.timedelta(hours=3), tick=False):
        assert release_apply_due_task() == 1
        assert weights_status(tokens["stranger"]) == 200
        plan = ReleasePlan.objects.get(repo=gated_repo)
        assert (plan.position, plan.withheld_patterns) == (2, [])
        assert plan.stages.get(position=2).applied_at == OPEN + dt.timedelta(hours=3)
    assert applied_events(gated_repo) == [(1, "advance"), (2, "schedule"), (3, "schedule")]


def test_overdue_stages_apply_in_order_in_one_tick(gated_repo, people):
    with time_machine.travel(T0, tick=False):
        plan_launch(gated_repo, people["owner"])
    with time_machine.travel(OPEN + dt.timedelta(days=1), tick=False):
        assert release_apply_due_task() == 2
    assert applied_events(gated_repo)[1:] == [(2, "schedule"), (3, "schedule")]
    repo = Repo.objects.get(pk=gated_repo.pk)
    assert (repo.private, repo.gated) == (False, "")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises writers")
def test_two_racing_beat_ticks_apply_a_due_stage_once(gated_repo, people, monkeypatch):
    from gating.services import release as release_services

    with time_machine.travel(T0, tick=False):
        plan_launch(gated_repo, people["owner"])
    # Slow the transition down so that both ticks are inside it at the same time.
    real_apply = release_services._apply_stage
    barrier = threading.Barrier(2, timeout=10)

    def slow_apply(*args, **kwargs):
        real_apply(*args, **kwargs)
        threading.Event().wait(0.5)

    monkeypatch.setattr(release_services, "_apply_stage", slow_apply)
    results = []

    def tick():
        try:
            barrier.wait()
            results.append(services.release_apply_due(now=LAUNCH))
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert applied_events(gated_repo) == [(1, "advance"), (2, "schedule")]


def test_pause_stops_the_schedule_and_rollback_pauses(gated_repo, people):
    owner = people["owner"]
    with time_machine.travel(T0, tick=False):
        plan_launch(gated_repo, owner)
        services.release_pause(repo=gated_repo, actor=owner, paused=True)
    with time_machine.travel(LAUNCH + dt.timedelta(minutes=1), tick=False):
        assert release_apply_due_task() == 0
        services.release_pause(repo=gated_repo, actor=owner, paused=False)
        assert release_apply_due_task() == 1
        services.release_rollback(repo=gated_repo, actor=owner)
        assert Repo.objects.get(pk=gated_repo.pk).private
        assert release_apply_due_task() == 0  # rolled back and paused: the schedule does not undo it
        assert ReleasePlan.objects.get(repo=gated_repo).paused
    actions = list(AuditEvent.objects.filter(repo=gated_repo, action__startswith="release.").values_list("action"))
    assert ("release.paused",) in actions and ("release.resumed",) in actions
    assert applied_events(gated_repo)[-1] == (1, "rollback")


def test_bad_plans_and_operations_are_refused(gated_repo, people):
    owner = people["owner"]
    with pytest.raises(Exception, match="mode must be one of"):
        services.release_plan_set(repo=gated_repo, actor=owner, stages=[StageSpec(mode="sometimes")])
    with pytest.raises(Exception, match="scheduled in order"):
        services.release_plan_set(
            repo=gated_repo,
            actor=owner,
            stages=[StageSpec(mode="manual", scheduled_at=OPEN), StageSpec(mode="public", scheduled_at=LAUNCH)],
        )
    with pytest.raises(Exception, match="no release plan"):
        services.release_advance(repo=gated_repo, actor=owner)
    assert not AuditEvent.objects.filter(repo=gated_repo, action__startswith="release.").exists()


def test_release_plan_api_for_admins_only(hub, gated_repo, people):
    import httpx2

    url = f"{hub}/api/models/acme/diffusion/release"
    plan = {"stages": [{"mode": "manual", "withheld": ["*.safetensors"]}, {"mode": "public", "scheduledAt": None}]}
    owner = {"Authorization": f"Bearer {token_for(people['owner'])}"}
    stranger = {"Authorization": f"Bearer {token_for(people['stranger'])}"}
    assert httpx2.put(url, json=plan, headers=stranger).status_code == 403
    assert httpx2.put(url, json={"stages": [{"mode": "manual", "colour": "red"}]}, headers=owner).status_code == 400
    body = httpx2.put(url, json=plan, headers=owner).json()
    assert [stage["mode"] for stage in body["stages"]] == ["manual", "public"] and body["position"] is None
    advanced = httpx2.post(f"{url}/advance", headers=owner).json()
    assert advanced["position"] == 1 and advanced["withheld"] == ["*.safetensors"]
    approved = HfApi(token=token_for(people["approved"]))
    with pytest.raises(HfHubHTTPError) as excinfo:
        approved.hf_hub_download("acme/diffusion", "model.safetensors")
    assert excinfo.value.response.status_code == 403 and "withheld in the current release stage" in str(excinfo.value)
    assert approved.hf_hub_download("acme/diffusion", "config.json")
    # The public repo page shows the plan and its dates.
    page = Client().get("/acme/diffusion").content.decode()
    assert "Release plan" in page and "withheld: *.safetensors" in page
