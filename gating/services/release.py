"""Staged release: a plan of stages (private -> gated manual -> gated auto -> public, say), applied
on schedule by the beat task or by hand.

Exactly once: a stage is applied inside a transaction that holds the plan row
(`select_for_update(skip_locked=True)` on PostgreSQL; SQLite serialises writers), re-reads the
plan's position there, and moves it with a conditional update (`WHERE position = <old>`); a
second beat tick either skips the locked plan or finds nothing due any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, Conflict
from core.timeutil import isoformat_z
from gating.models import STAGE_SETTINGS, ReleasePlan, ReleaseStage, StageMode
from gating.services.audit import audit_record
from registry.models import Repo
from registry.services import repo_settings_update

MAX_STAGES = 20
MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 200


@dataclass(frozen=True)
class StageSpec:
    mode: str
    scheduled_at: datetime | None = None
    withheld_patterns: list[str] = field(default_factory=list)
    note: str = ""


def _validate(specs: list[StageSpec], applied: int) -> None:
    if applied + len(specs) > MAX_STAGES:
        raise BadRequest(f"A release plan has at most {MAX_STAGES} stages.")
    previous = None
    for number, spec in enumerate(specs, start=1):
        where = f"Stage {applied + number}"
        if spec.mode not in StageMode.values:
            raise BadRequest(f"{where}: mode must be one of {', '.join(StageMode.values)}.")
        if len(spec.withheld_patterns) > MAX_PATTERNS:
            raise BadRequest(f"{where}: at most {MAX_PATTERNS} withheld patterns.")
        for pattern in spec.withheld_patterns:
            if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN_LENGTH:
                raise BadRequest(f"{where}: withheld patterns are non-empty strings of at most 200 characters.")
        if len(spec.note) > 200:
            raise BadRequest(f"{where}: the note is at most 200 characters.")
        if spec.scheduled_at is not None:
            if timezone.is_naive(spec.scheduled_at):
                raise BadRequest(f"{where}: the scheduled time needs a time zone.")
            if previous is not None and spec.scheduled_at < previous:
                raise BadRequest(f"{where}: stages must be scheduled in order.")
            previous = spec.scheduled_at


@transaction.atomic
def release_plan_set(*, repo: Repo, actor: User, stages: list[StageSpec]) -> ReleasePlan:
    """Replace the stages still to come; stages already in force or passed are history."""
    plan, _ = ReleasePlan.objects.get_or_create(repo=repo)
    plan = ReleasePlan.objects.select_for_update().get(pk=plan.pk)
    _validate(stages, plan.position + 1)
    plan.stages.filter(position__gt=plan.position).delete()
    ReleaseStage.objects.bulk_create(
        ReleaseStage(
            plan=plan,
            position=plan.position + 1 + offset,
            mode=spec.mode,
            scheduled_at=spec.scheduled_at,
            withheld_patterns=[pattern.strip() for pattern in spec.withheld_patterns],
            note=spec.note,
        )
        for offset, spec in enumerate(stages)
    )
    described = [
        {"mode": spec.mode, "scheduledAt": isoformat_z(spec.scheduled_at), "withheld": spec.withheld_patterns}
        for spec in stages
    ]
    audit_record(action="release.plan_updated", repo=repo, actor=actor, data={"stages": described})
    plan.save(update_fields=["updated_at"])
    return plan


def _apply_stage(plan: ReleasePlan, stage: ReleaseStage, *, actor: User | None, trigger: str, now: datetime) -> None:
    """Put `stage` in force. Runs inside the caller's transaction, which holds the plan row."""
    private, gated = STAGE_SETTINGS[stage.mode]
    before = plan.position
    moved = ReleasePlan.objects.filter(pk=plan.pk, position=before).update(
        position=stage.position, withheld_patterns=stage.withheld_patterns, updated_at=now
    )
    if moved != 1:
        raise Conflict("The release plan changed meanwhile; try again.")
    repo_settings_update(repo=plan.repo, private=private, gated=gated)
    plan.position = stage.position
    plan.withheld_patterns = stage.withheld_patterns
    ReleaseStage.objects.filter(pk=stage.pk).update(applied_at=now)
    audit_record(
        action="release.stage_applied",
        repo=plan.repo,
        actor=actor,
        data={
            "stage": stage.position + 1,
            "from_stage": before + 1,
            "mode": stage.mode,
            "withheld": stage.withheld_patterns,
            "scheduledAt": isoformat_z(stage.scheduled_at),
            "trigger": trigger,
        },
    )


def _locked_plan(repo: Repo) -> ReleasePlan:
    plan = ReleasePlan.objects.select_for_update().select_related("repo").filter(repo=repo).first()
    if plan is None:
        raise BadRequest(f"{repo.repo_id} has no release plan.")
    return plan


@transaction.atomic
def release_advance(*, repo: Repo, actor: User) -> ReleaseStage:
    """Put the next stage in force now, whatever its schedule."""
    plan = _locked_plan(repo)
    stage = plan.stages.filter(position=plan.position + 1).first()
    if stage is None:
        raise BadRequest("The release plan has no further stage.")
    _apply_stage(plan, stage, actor=actor, trigger="advance", now=timezone.now())
    return stage


@transaction.atomic
def release_rollback(*, repo: Repo, actor: User) -> ReleaseStage:
    """Go back to the previous stage and pause the plan, so the schedule does not undo it."""
    plan = _locked_plan(repo)
    stage = plan.stages.filter(position=plan.position - 1).first() if plan.position > 0 else None
    if stage is None:
        raise BadRequest("There is no earlier stage to roll back to.")
    ReleasePlan.objects.filter(pk=plan.pk).update(paused=True)
    _apply_stage(plan, stage, actor=actor, trigger="rollback", now=timezone.now())
    return stage


@transaction.atomic
def release_pause(*, repo: Repo, actor: User, paused: bool) -> ReleasePlan:
    plan = _locked_plan(repo)
    if plan.paused != paused:
        plan.paused = paused
        plan.save(update_fields=["paused", "updated_at"])
        audit_record(action="release.paused" if paused else "release.resumed", repo=repo, actor=actor)
    return plan


def _apply_due_for_plan(plan_id: int, now: datetime) -> int:
    with transaction.atomic():
        plan = (
            ReleasePlan.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("repo")
            .filter(pk=plan_id, paused=False)
            .first()
        )
        if plan is None:
            return 0  # paused meanwhile, or another tick holds it
        applied = 0
        while True:
            stage = plan.stages.filter(position=plan.position + 1, scheduled_at__lte=now).first()
            if stage is None:
                return applied
            _apply_stage(plan, stage, actor=None, trigger="schedule", now=now)
            applied += 1


def release_apply_due(*, now: datetime | None = None) -> int:
    """Apply every stage whose time has come, in order, once each. Returns how many."""
    now = now or timezone.now()
    due = (
        ReleaseStage.objects.filter(plan__paused=False, scheduled_at__lte=now, position=F("plan__position") + 1)
        .values_list("plan_id", flat=True)
        .distinct()
    )
    return sum(_apply_due_for_plan(plan_id, now) for plan_id in list(due))


def release_operate(*, repo: Repo, actor: User, operation: str) -> None:
    """The hand controls by name: advance, rollback, pause, resume."""
    if operation == "advance":
        release_advance(repo=repo, actor=actor)
    elif operation == "rollback":
        release_rollback(repo=repo, actor=actor)
    elif operation in ("pause", "resume"):
        release_pause(repo=repo, actor=actor, paused=operation == "pause")
    else:
        raise BadRequest(f"Unknown release operation {operation!r}.")
