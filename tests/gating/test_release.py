"""Scheduled stage transitions apply exactly once; withheld files open with their stage."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import GatedRepo
from gating import release
from gating.models import AccessRequest, AuditEvent
from gating.policy import Principal, RepoAccess, check_file
from gating.tasks import release_stages_apply_task
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db(transaction=True)


def _plan(repo, owner, start):
    return release.release_plan_set(
        repo=repo,
        actor=owner,
        stages=[
            release.StageSpec(mode="private"),
            release.StageSpec(
                mode="gated_manual", scheduled_at=start + timedelta(hours=1), withheld_patterns=("*.safetensors",)
            ),
            release.StageSpec(mode="gated_auto", scheduled_at=start + timedelta(hours=2)),
            release.StageSpec(mode="public", scheduled_at=start + timedelta(hours=3)),
        ],
    )


def test_stages_apply_when_due_and_only_once(alice, bob, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    repo = make_repo(alice, "m", {"model.safetensors": b"\0" * 10, "config.json": b"{}"})
    _plan(repo, alice, start)
    repo.refresh_from_db()
    assert repo.private
    assert release_stages_apply_task() == 0  # nothing due yet

    time_machine.move_to(start + timedelta(minutes=61), tick=False)
    if connection.vendor == "postgresql":
        results = []
        ticks = [threading.Thread(target=lambda: results.append(release_stages_apply_task())) for _ in range(2)]
        for tick in ticks:
            tick.start()
        for tick in ticks:
            tick.join()
        assert sorted(results) == [0, 1]
    else:
        assert release_stages_apply_task() == 1
        assert release_stages_apply_task() == 0
    repo.refresh_from_db()
    assert not repo.private and repo.gated == "manual"
    applied = AuditEvent.objects.filter(action="release.stage_apply", data__position=1)
    assert applied.count() == 1

    # an approved user gets the config, but the weights stay withheld in this stage
    AccessRequest.objects.create(repo=repo, user=bob, status="accepted")
    with pytest.raises(GatedRepo, match="withheld"):
        check_file(RepoAccess(Principal(user=bob), repo), "model.safetensors", tree_oids=())
    check_file(RepoAccess(Principal(user=bob), repo), "config.json", tree_oids=())
    check_file(
        RepoAccess(Principal(user=alice), repo), "model.safetensors", tree_oids=()
    )  # the owner always sees everything

    time_machine.move_to(start + timedelta(hours=5), tick=False)
    assert release_stages_apply_task() == 1  # one stage per tick: stage 2 (auto) now
    assert release_stages_apply_task() == 1  # then stage 3 (public)
    assert release_stages_apply_task() == 0
    repo.refresh_from_db()
    assert not repo.private and repo.gated == ""
    check_file(RepoAccess(Principal(user=bob), repo), "model.safetensors", tree_oids=())


def test_pause_advance_and_rollback_by_hand(alice, time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    repo = make_repo(alice, "m")
    _plan(repo, alice, start)
    release.release_pause(repo=repo, actor=alice, paused=True)
    time_machine.move_to(start + timedelta(hours=10), tick=False)
    assert release_stages_apply_task() == 0  # paused: schedules wait
    release.release_advance(repo=repo, actor=alice)
    repo.refresh_from_db()
    assert repo.gated == "manual"
    release.release_rollback(repo=repo, actor=alice)
    repo.refresh_from_db()
    assert repo.private and repo.release_plan.paused
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"release.plan_set", "release.pause", "release.stage_apply", "repo.update_settings"} <= actions


def test_invalid_plans_are_refused(alice):
    repo = make_repo(alice, "m")
    now = timezone.now()
    for stages in (
        [],
        [release.StageSpec(mode="sideways")],
        [
            release.StageSpec(mode="private", scheduled_at=now + timedelta(days=2)),
            release.StageSpec(mode="public", scheduled_at=now + timedelta(days=1)),
        ],
        [release.StageSpec(mode="private", withheld_patterns=("",))],
    ):
        with pytest.raises(Exception, match="tage|plan"):
            release.release_plan_set(repo=repo, actor=alice, stages=stages)
    assert not AuditEvent.objects.filter(action="release.plan_set").exists()
