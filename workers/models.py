"""Preview jobs: what a worker renders, who asked for it, and every safety verdict on the way.

A `PreviewJob` is one image to render at an exact commit. Identical requests (same commit,
parameters and safety configuration, hence the same `request_key`) share one job, so a result is
computed once; each caller's ask is a `PreviewRequest` pointing at it, which is what the API and
the history show. A job row is also the worker's state machine: a worker claims it with
`select_for_update(skip_locked=True)` and holds a lease (`lease_owner`, `lease_expires_at`) that
it renews while it works, so a redelivered task does nothing twice.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    BLOCKED = "blocked"
    FAILED = "failed"


TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.BLOCKED, JobStatus.FAILED)
IN_FLIGHT_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class SafetyStage(models.TextChoices):
    PROMPT = "prompt", "Prompt screening"
    GUIDANCE = "guidance", "Safe Latent Diffusion guidance"
    CHECKER = "checker", "Image safety checker"


class SafetyPreset(models.TextChoices):
    """Safe Latent Diffusion strength, weakest first (see workers/safety/presets.py)."""

    OFF = "off"
    WEAK = "weak"
    MEDIUM = "medium"
    STRONG = "strong"
    MAX = "max"


class JobKind(models.TextChoices):
    PREVIEW = "preview"
    BIAS = "bias"


class PreviewSettings(models.Model):
    """What a repo's admins chose for previews of their model."""

    repo = models.OneToOneField("registry.Repo", on_delete=models.CASCADE, related_name="preview_settings")
    enabled = models.BooleanField(default=True)
    # The effective preset is never weaker than the operator's minimum.
    sld_preset = models.CharField(max_length=8, choices=SafetyPreset.choices, default=SafetyPreset.MEDIUM)
    # Added to the operator's blocked concepts for this repo; authors can add, never remove.
    extra_blocked_concepts = models.TextField(blank=True)
    bias_professions = models.TextField(blank=True)
    bias_adjectives = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class BiasReport(models.Model):
    """A seeded grid of prompt templates rendered through the safety pipeline."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="bias_reports")
    commit_oid = models.CharField(max_length=40)
    revision = models.CharField(max_length=255)
    config = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    published = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["repo", "created_at"])]


class PreviewJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="preview_jobs")
    commit_oid = models.CharField(max_length=40)
    # sha256 over commit, parameters and effective safety configuration; equal keys, equal images.
    request_key = models.CharField(max_length=64)
    # Jobs with the same batch key can share one pipeline call.
    batch_key = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=8, choices=JobKind.choices, default=JobKind.PREVIEW)
    params = models.JSONField()
    sld_preset = models.CharField(max_length=8, choices=SafetyPreset.choices)
    blocked_concepts = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    blocked_stage = models.CharField(max_length=10, choices=SafetyStage.choices, blank=True)
    blocked_category = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    progress_step = models.PositiveSmallIntegerField(default=0)

    result_sha256 = models.CharField(max_length=64, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One live job per key: a failed job does not block a retry of the same request.
            models.UniqueConstraint(
                fields=["request_key"], condition=~Q(status="failed"), name="previewjob_one_live_per_key"
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | ~Q(result_sha256=""), name="previewjob_success_has_result"
            ),
            models.CheckConstraint(
                condition=Q(status="succeeded") | Q(result_sha256=""), name="previewjob_only_success_has_result"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "batch_key", "created_at"]),
            models.Index(fields=["repo", "status"]),
            models.Index(fields=["created_by", "status"]),
        ]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class PreviewRequest(models.Model):
    """One caller's ask for a preview; several may share a job."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(PreviewJob, on_delete=models.CASCADE, related_name="requests")
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="preview_requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preview_requests")
    revision = models.CharField(max_length=255)
    reused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["requester", "created_at"]),
            models.Index(fields=["repo", "created_at"]),
        ]


class BiasReportCell(models.Model):
    """One image of a bias report: a (profession, adjective, seed) cell and the job that renders it."""

    report = models.ForeignKey(BiasReport, on_delete=models.CASCADE, related_name="cells")
    job = models.ForeignKey(PreviewJob, on_delete=models.CASCADE, related_name="bias_cells")
    profession = models.CharField(max_length=100)
    adjective = models.CharField(max_length=100, blank=True)
    seed = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "profession", "adjective", "seed"], name="biascell_unique")
        ]


class VerdictOutcome(models.TextChoices):
    PASSED = "passed"
    APPLIED = "applied"
    BLOCKED = "blocked"


class SafetyVerdict(models.Model):
    """Every decision of every safety stage, for the repo's admins (never shown to other users)."""

    job = models.ForeignKey(PreviewJob, on_delete=models.CASCADE, related_name="verdicts")
    attempt = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=10, choices=SafetyStage.choices)
    outcome = models.CharField(max_length=8, choices=VerdictOutcome.choices)
    category = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Idempotent writes: a redelivered task cannot record the same stage of an attempt twice.
            models.UniqueConstraint(fields=["job", "attempt", "stage"], name="verdict_once_per_stage")
        ]
        indexes = [models.Index(fields=["created_at"])]
