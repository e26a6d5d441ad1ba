"""Staged release: an ordered plan of stages (private -> gated manual -> gated auto -> public,
for example), each with an optional time and file patterns still withheld in that stage.

Applying a stage sets the repo's visibility and gating mode through the registry service, moves
the plan's position and writes an audit event, in one transaction on the locked plan row, so a
due stage is applied exactly once even when two beat ticks race.

SECURITY: patterns match paths, and a path names different bytes at different revisions: a file a
writer moved into a withheld path is still under its old name at older commits and tags. So while
a stage is current, the content (sha256) of every file its patterns match at a branch head is
withheld too, at every revision and under any name (`withheld_content`, refreshed in the same
transaction as each commit to a branch and each stage change; policy.check_file reads it from the
stage row it already loads, so no query is added to downloads)."""

from __future__ import annotations

import contextlib
import fnmatch
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core import faults
from core.errors import BadRequest
from core.prepared import PreparedQuery
from core.timeutil import isoformat_z
from gating.audit import audit_record
from gating.models import ReleasePlan, ReleaseStage, StageMode
from registry.git import trees
from registry.models import GatedMode, Ref, RefKind, Repo
from registry.selectors import commit_tree_oid, entry_sha256
from registry.services import repo_settings_update

MAX_STAGES = 10
MAX_PATTERNS = 50
MODE_SETTINGS = {
    StageMode.PRIVATE: (True, GatedMode.OFF),
    StageMode.GATED_MANUAL: (False, GatedMode.MANUAL),
    StageMode.GATED_AUTO: (False, GatedMode.AUTO),
    StageMode.PUBLIC: (False, GatedMode.OFF),
}


@dataclass(frozen=True)
class StageSpec:
    mode: str
    scheduled_at: datetime | None = None
    withheld_patterns: tuple[str, ...] = ()
    previews_public: bool = False


def _validate(specs: list[StageSpec]) -> None:
    if not 1 <= len(specs) <= MAX_STAGES:
        raise BadRequest(f"A release plan has 1 to {MAX_STAGES} stages.")
    previous = None
    for number, spec in enumerate(specs, start=1):
        if spec.mode not in StageMode.values:
            raise BadRequest(f"Stage {number}: unknown mode {spec.mode!r}.")
        if len(spec.withheld_patterns) > MAX_PATTERNS or any(
            not isinstance(p, str) or not p.strip() or len(p) > 200 for p in spec.withheld_patterns
        ):
            raise BadRequest(f"Stage {number}: up to {MAX_PATTERNS} non-empty file patterns.")
        if spec.scheduled_at and previous and spec.scheduled_at < previous:
            raise BadRequest(f"Stage {number} is scheduled before the stage it follows.")
        previous = spec.scheduled_at or previous


@transaction.atomic
def release_plan_set(*, repo: Repo, actor: User, stages: list[StageSpec]) -> ReleasePlan:
    """Replace the plan's stages. Stages already applied are history; the plan restarts at 0."""
    _validate(stages)
    plan, _ = ReleasePlan.objects.select_for_update().get_or_create(repo=repo)
    plan.stages.all().delete()
    ReleaseStage.objects.bulk_create(
        ReleaseStage(
            plan=plan,
            position=index,
            mode=spec.mode,
            scheduled_at=spec.scheduled_at,
            withheld_patterns=list(spec.withheld_patterns),
            previews_public=spec.previews_public,
        )
        for index, spec in enumerate(stages)
    )
    plan.current_position = None
    plan.paused = False
    plan.save()
    audit_record(
        repo=repo,
        action="release.plan_set",
        actor=actor,
        data={
            "stages": [
                {"mode": s.mode, "at": isoformat_z(s.scheduled_at), "withheld": list(s.withheld_patterns)}
                for s in stages
            ]
        },
    )
    _apply(plan, 0, actor=actor, reason="plan set")
    return plan


def _apply(plan: ReleasePlan, position: int, *, actor: User | None, reason: str) -> ReleaseStage:
    stage = plan.stages.get(position=position)
    private, gated = MODE_SETTINGS[StageMode(stage.mode)]
    repo_settings_update(repo=plan.repo, private=private, gated=gated or False, actor=actor)
    stage.applied_at = timezone.now()
    stage.save(update_fields=["applied_at"])
    plan.current_position = position
    plan.save(update_fields=["current_position", "updated_at"])
    audit_record(
        repo=plan.repo,
        action="release.stage_apply",
        actor=actor,
        reason=reason,
        data={"position": position, "mode": stage.mode},
    )
    _refresh(stage, plan.repo)
    return stage


def _locked_plan(repo: Repo) -> ReleasePlan:
    plan = ReleasePlan.objects.select_for_update().select_related("repo").filter(repo=repo).first()
    if plan is None:
        raise BadRequest("This repo has no release plan.")
    return plan


@transaction.atomic
def release_advance(*, repo: Repo, actor: User) -> ReleaseStage:
    plan = _locked_plan(repo)
    following = (plan.current_position if plan.current_position is not None else -1) + 1
    if not plan.stages.filter(position=following).exists():
        raise BadRequest("The plan is already at its last stage.")
    return _apply(plan, following, actor=actor, reason="advanced by hand")


@transaction.atomic
def release_rollback(*, repo: Repo, actor: User) -> ReleaseStage:
    plan = _locked_plan(repo)
    if not plan.current_position:
        raise BadRequest("The plan is at its first stage.")
    stage = _apply(plan, plan.current_position - 1, actor=actor, reason="rolled back by hand")
    # Rolled back: later stages wait again, and pausing keeps schedules from re-applying them.
    plan.stages.filter(position__gt=stage.position).update(applied_at=None)
    plan.paused = True
    plan.save(update_fields=["paused", "updated_at"])
    return stage


@transaction.atomic
def release_pause(*, repo: Repo, actor: User, paused: bool) -> ReleasePlan:
    plan = _locked_plan(repo)
    plan.paused = paused
    plan.save(update_fields=["paused", "updated_at"])
    audit_record(repo=repo, action="release.pause" if paused else "release.resume", actor=actor)
    return plan


def release_apply_due(*, now: datetime | None = None) -> int:
    """Apply every stage whose time has come. Safe to run concurrently: each plan is claimed with
    SKIP LOCKED and the stage is re-checked under the lock."""
    now = now or timezone.now()
    applied = 0
    due = ReleasePlan.objects.filter(paused=False, stages__applied_at__isnull=True, stages__scheduled_at__lte=now)
    candidates = due.values_list("pk", flat=True).distinct()
    for plan_id in list(candidates):
        with transaction.atomic():
            plan = (
                ReleasePlan.objects.select_for_update(skip_locked=True)
                .select_related("repo")
                .filter(pk=plan_id, paused=False)
                .first()
            )
            if plan is None:
                continue
            following = (plan.current_position if plan.current_position is not None else -1) + 1
            stage = plan.stages.filter(position=following, applied_at__isnull=True, scheduled_at__lte=now).first()
            if stage is None:
                continue
            _apply(plan, following, actor=None, reason="scheduled")
            faults.point("release.in_stage_txn")
            applied += 1
    return applied


# One query, compiled once per process (core.prepared): it runs on every download, HEADs
# included. The plan is not joined in: only a refusal that names the next stage needs it.
# A repo has one plan and a plan one stage per position, so `[:1]` needs no ORDER BY pk.
_CURRENT_STAGE = PreparedQuery(
    lambda repo_id: ReleaseStage.objects.filter(plan__repo_id=repo_id, position=F("plan__current_position"))[:1]
)


def current_stage(repo: Repo) -> ReleaseStage | None:
    found = _CURRENT_STAGE(repo_id=repo.pk)
    return found[0] if found else None


def is_withheld(stage: ReleaseStage | None, path: str) -> bool:
    if stage is None:
        return False
    basename = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path if "/" in pattern else basename, pattern) for pattern in stage.withheld_patterns
    )


def withheld_content_refresh(*, repo: Repo) -> None:
    """Recompute what the current stage withholds by content; run inside the transaction that
    moves a branch. SECURITY: the stage row is locked, so of two commits racing on two branches
    the later one to lock it reads the other's committed head: neither's new files are lost."""
    stage = (
        ReleaseStage.objects.select_for_update(of=("self",))
        .filter(plan__repo_id=repo.pk, position=F("plan__current_position"))
        .first()
    )
    if stage is not None:
        _refresh(stage, repo)


def _refresh(stage: ReleaseStage, repo: Repo) -> None:
    found = sorted(_content_matching(stage, repo)) if stage.withheld_patterns else []
    if found != stage.withheld_content:
        stage.withheld_content = found
        stage.save(update_fields=["withheld_content"])


def _content_matching(stage: ReleaseStage, repo: Repo) -> set[str]:
    heads = Ref.objects.filter(repo=repo, kind=RefKind.BRANCH).values_list("commit_oid", flat=True)
    found: set[str] = set()
    for tree_oid in {commit_tree_oid(repo, oid) for oid in heads}:
        for path, entry in trees.iter_files(tree_oid) if tree_oid else ():
            if is_withheld(stage, path):
                with contextlib.suppress(LookupError):  # no content row, nothing to withhold
                    found.add(entry_sha256(entry))
    return found


def is_content_withheld(stage: ReleaseStage | None, path: str, tree_oids: tuple[str | None, ...]) -> bool:
    """Whether the file at `path` in any of these trees holds content the stage withholds."""
    if stage is None or not stage.withheld_content:
        return False  # the common case: nothing to look up
    for tree_oid in tree_oids:
        entry = trees.find_entry(tree_oid, path) if tree_oid else None
        if entry is None or entry["type"] != "file":
            continue
        try:
            sha256 = entry_sha256(entry)
        except LookupError:  # no content row: the exit check that follows refuses it anyway
            continue
        if sha256 in stage.withheld_content:
            return True
    return False
