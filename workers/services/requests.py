"""Asking for previews: validation, prompt screening, limits, reuse, and queueing.

A request returns at once. Prompt screening runs here, before anything is queued, so a blocked
prompt never costs compute: its job is created already `blocked` (stage "prompt"). Identical
requests at the same commit share one job (and so one image).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, RateLimited
from core.outbox import publish_on_commit
from registry.models import Repo
from registry.selectors import Resolved
from workers import conf
from workers.loading import model_plan
from workers.metrics import count_previews
from workers.models import (
    IN_FLIGHT_STATUSES,
    JobKind,
    JobStatus,
    PreviewJob,
    PreviewRequest,
    PreviewSettings,
    SafetyPreset,
    SafetyStage,
    SafetyVerdict,
    VerdictOutcome,
)
from workers.runner.specs import SEED_MAX, Concept, InvalidParams, RenderParams, digest, validate_params
from workers.safety.presets import effective_preset
from workers.safety.prompts import parse_concepts, screen_prompt
from workers.selectors import check_previewable

# Bump when a change to the runner changes the pixels a request produces (invalidates reuse).
RENDER_VERSION = 1


class InvalidPreviewParameters(BadRequest):
    code = "InvalidParameters"


@dataclass(frozen=True)
class JobSpec:
    """Everything that determines a job's pixels (and so its request key)."""

    repo: Repo
    commit_oid: str
    params: RenderParams
    preset: str
    concepts: tuple[Concept, ...]

    @property
    def safety_concept(self) -> str:
        return conf.safety_concept()

    def request_key(self) -> str:
        return digest(
            {
                "v": RENDER_VERSION,
                "repo": self.repo.pk,
                "commit": self.commit_oid,
                "params": self.params.as_dict(),
                "preset": self.preset,
                "concepts": [[c.category, c.phrase] for c in self.concepts],
                "safety_concept": self.safety_concept,
                "checker": settings.GATEHOUSE_SAFETY_CHECKER_PATH,
            }
        )

    def batch_key(self) -> str:
        """Jobs that can share one pipeline call: everything but prompts and seeds must match."""
        p = self.params
        concepts = [[c.category, c.phrase] for c in self.concepts]
        return digest(
            [RENDER_VERSION, self.repo.pk, self.commit_oid, self.preset, concepts, self.safety_concept]
            + [p.steps, p.guidance_scale, p.width, p.height]
        )


def _repo_concepts(preview_settings: PreviewSettings) -> tuple[Concept, ...]:
    extra = parse_concepts(preview_settings.extra_blocked_concepts)
    return tuple(dict.fromkeys(conf.operator_concepts() + extra))


def build_spec(*, repo: Repo, resolved: Resolved, data: dict, preview_settings: PreviewSettings) -> JobSpec:
    native = model_plan(repo.pk, resolved.tree_oid).native_side or 512
    try:
        params = validate_params(data, conf.limits(), default_seed=random.randint(0, SEED_MAX), default_side=native)
    except InvalidParams as exc:
        raise InvalidPreviewParameters(str(exc)) from exc
    preset = effective_preset(preview_settings.sld_preset, settings.GATEHOUSE_PREVIEW_SLD_MINIMUM)
    if preset != "off" and params.guidance_scale <= 1.0:
        raise InvalidPreviewParameters(
            "'guidance_scale' must be above 1: safety guidance works through classifier-free guidance."
        )
    return JobSpec(
        repo=repo,
        commit_oid=resolved.commit_oid,
        params=params,
        preset=preset,
        concepts=_repo_concepts(preview_settings),
    )


def _rate_limited(message: str, retry_after: int, limit: int, window: int) -> RateLimited:
    return RateLimited(
        message,
        headers={
            "Retry-After": str(retry_after),
            "RateLimit": f'"previews";r=0;t={retry_after}',
            "RateLimit-Policy": f'"fixed window";"previews";q={limit};w={window}',
        },
    )


def _check_rates(*, repo: Repo, user: User, now) -> None:
    window = settings.GATEHOUSE_PREVIEW_RATE_WINDOW
    since = now - timedelta(seconds=window)
    for scope, queryset, limit in (
        ("You have", PreviewRequest.objects.filter(requester=user), settings.GATEHOUSE_PREVIEW_USER_RATE),
        ("This repo has", PreviewRequest.objects.filter(repo=repo), settings.GATEHOUSE_PREVIEW_REPO_RATE),
    ):
        recent = queryset.filter(created_at__gte=since)
        if recent.count() >= limit:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first() or now
            retry = max(int((oldest + timedelta(seconds=window) - now).total_seconds()) + 1, 1)
            raise _rate_limited(
                f"{scope} made {limit} preview requests in the last {window // 60} minutes, the limit. "
                f"Try again in {retry} seconds.",
                retry,
                limit,
                window,
            )


def _check_queue_caps(*, repo: Repo, user: User) -> None:
    in_flight = PreviewJob.objects.filter(status__in=IN_FLIGHT_STATUSES)
    caps = (
        (in_flight.filter(created_by=user, kind=JobKind.PREVIEW), settings.GATEHOUSE_PREVIEW_USER_QUEUE, "You have"),
        (in_flight.filter(repo=repo), settings.GATEHOUSE_PREVIEW_REPO_QUEUE, "This repo has"),
        (in_flight, settings.GATEHOUSE_PREVIEW_QUEUE_MAX, "The hub has"),
    )
    for queryset, cap, scope in caps:
        if queryset.count() >= cap:
            raise _rate_limited(
                f"{scope} {cap} previews queued or running, the most allowed. Wait for one to finish.", 10, cap, 10
            )


def enqueue(job_id) -> None:
    """Publish the job once the transaction that created or re-queued it has committed."""
    from workers.tasks import preview_run_task

    # Published after the commit; a broker that cannot take it fails nothing: the job row is
    # `queued`, and the beat's reaper publishes it again (preview_jobs_reap).
    publish_on_commit(preview_run_task, [str(job_id)], expires=settings.GATEHOUSE_PREVIEW_EXPIRES)


def job_for_spec(spec: JobSpec, *, user: User | None, kind: str) -> tuple[PreviewJob, bool]:
    """The live job for this spec, creating (and queueing or blocking) it if needed: (job, created).

    Call inside a transaction. Two identical concurrent requests end up sharing one job.
    """
    key = spec.request_key()
    existing = PreviewJob.objects.filter(request_key=key).exclude(status=JobStatus.FAILED).first()
    if existing is not None:
        return existing, False
    if kind == JobKind.PREVIEW and user is not None:
        _check_queue_caps(repo=spec.repo, user=user)
    verdict = screen_prompt(spec.params.prompt, spec.concepts)
    now = timezone.now()
    job = PreviewJob(
        repo=spec.repo,
        commit_oid=spec.commit_oid,
        request_key=key,
        batch_key=spec.batch_key(),
        kind=kind,
        params=spec.params.as_dict(),
        sld_preset=spec.preset,
        blocked_concepts=[[c.category, c.phrase] for c in spec.concepts],
        created_by=user,
    )
    if verdict.blocked:
        job.status, job.blocked_stage, job.blocked_category = JobStatus.BLOCKED, SafetyStage.PROMPT, verdict.category
        job.finished_at = now
    else:
        job.enqueued_at = now
    try:
        with transaction.atomic():
            job.save(force_insert=True)
            if job.status == JobStatus.BLOCKED:
                count_previews(job.status, stage=job.blocked_stage)
    except IntegrityError:
        return PreviewJob.objects.exclude(status=JobStatus.FAILED).get(request_key=key), False
    outcome = VerdictOutcome.BLOCKED if verdict.blocked else VerdictOutcome.PASSED
    detail = {"phrase": verdict.phrase} if verdict.blocked else {}
    SafetyVerdict.objects.create(
        job=job, attempt=0, stage=SafetyStage.PROMPT, outcome=outcome, category=verdict.category, detail=detail
    )
    if not verdict.blocked:
        enqueue(job.pk)
    return job, True


def preview_request_create(*, repo: Repo, user: User, resolved: Resolved, data: dict) -> PreviewRequest:
    """A caller's preview request: validated, screened, limited, and queued or reused."""
    preview_settings = check_previewable(repo, resolved)
    spec = build_spec(repo=repo, resolved=resolved, data=data, preview_settings=preview_settings)
    with transaction.atomic():
        # Serialise a user's and a repo's requests so limits are exact under concurrency.
        PreviewSettings.objects.get_or_create(repo=repo)
        PreviewSettings.objects.select_for_update().get(repo=repo)
        User.objects.select_for_update().filter(pk=user.pk).first()
        _check_rates(repo=repo, user=user, now=timezone.now())
        job, created = job_for_spec(spec, user=user, kind=JobKind.PREVIEW)
        return PreviewRequest.objects.create(
            job=job, repo=repo, requester=user, revision=resolved.revision, reused=not created
        )


@transaction.atomic
def preview_settings_update(
    *,
    repo: Repo,
    enabled: bool | None = None,
    sld_preset: str | None = None,
    extra_blocked_concepts: str | None = None,
    bias_professions: str | None = None,
    bias_adjectives: str | None = None,
) -> PreviewSettings:
    """The authors' choices. A preset weaker than the operator's minimum is stored but never applied."""
    preview_settings, _ = PreviewSettings.objects.select_for_update().get_or_create(repo=repo)
    if enabled is not None:
        preview_settings.enabled = bool(enabled)
    if sld_preset is not None:
        if sld_preset not in SafetyPreset.values:
            raise BadRequest(f"'sld_preset' must be one of {', '.join(SafetyPreset.values)}.")
        preview_settings.sld_preset = sld_preset
    if extra_blocked_concepts is not None:
        try:
            parse_concepts(extra_blocked_concepts)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        preview_settings.extra_blocked_concepts = extra_blocked_concepts[:10000]
    if bias_professions is not None:
        preview_settings.bias_professions = bias_professions[:5000]
    if bias_adjectives is not None:
        preview_settings.bias_adjectives = bias_adjectives[:5000]
    preview_settings.save()
    return preview_settings
