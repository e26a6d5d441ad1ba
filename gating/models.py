"""Access requests and grants, delegated reviewers, release plans and the audit trail.

One `AccessRequest` row per (repo, user) carries the whole life of that user's access: asked,
decided, granted, expired, reset. The audit trail keeps the history; the row keeps the present.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from registry.models import Repo


class RequestStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    # An accepted grant whose time ran out: the user may ask again.
    EXPIRED = "expired"
    # A decision revoked by a reviewer: unlike `rejected`, the user may ask again.
    RESET = "reset"


# States from which the user may (re)submit the form; `rejected` needs a reviewer's reset first.
ASKABLE_STATUSES = (RequestStatus.EXPIRED, RequestStatus.RESET)


class AccessRequest(models.Model):
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="access_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    status = models.CharField(max_length=8, choices=RequestStatus.choices)
    # The answers to the card's `extra_gated_fields`, keyed by field label, validated on submit.
    fields = models.JSONField(default=dict, blank=True)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.CharField(max_length=200, blank=True)
    # An accepted request stops working at this time (None: no limit).
    expires_at = models.DateTimeField(null=True, blank=True)
    # True when a reviewer added the user without a request from them.
    granted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "user"], name="accessrequest_one_per_user")]
        indexes = [
            models.Index(fields=["repo", "status", "requested_at"], name="accessrequest_queue"),
            models.Index(fields=["status", "expires_at"], name="accessrequest_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.repo_id}:{self.status}"


class RepoReviewer(models.Model):
    """A user the repo's admins delegated access review to (owners and admins review anyway)."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewed_repos")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "user"], name="reviewer_unique")]


class NotifyMode(models.TextChoices):
    REALTIME = "realtime"
    DAILY = "daily"
    OFF = "off"


class GateConfig(models.Model):
    """Per-repo review settings; a repo without a row uses the defaults."""

    repo = models.OneToOneField(Repo, on_delete=models.CASCADE, primary_key=True, related_name="gate_config")
    notify_mode = models.CharField(max_length=8, choices=NotifyMode.choices, default=NotifyMode.REALTIME)
    # When set, review emails go here instead of to the owners, admins and reviewers.
    notify_email = models.EmailField(blank=True)
    last_digest_at = models.DateTimeField(null=True, blank=True)


class StageMode(models.TextChoices):
    PRIVATE = "private"
    MANUAL = "manual"
    AUTO = "auto"
    PUBLIC = "public"


# What each stage mode means for the repo, as arguments of registry's repo_settings_update:
# (private, gated); a private stage leaves the gating mode as it was.
STAGE_SETTINGS: dict[str, tuple[bool, str | bool | None]] = {
    StageMode.PRIVATE: (True, None),
    StageMode.MANUAL: (False, "manual"),
    StageMode.AUTO: (False, "auto"),
    StageMode.PUBLIC: (False, False),
}


class ReleasePlan(models.Model):
    """An ordered list of stages; `position` is the stage in force (-1: none applied yet).

    `withheld_patterns` copies the current stage's patterns so that the download path reads one
    row per request.
    """

    repo = models.OneToOneField(Repo, on_delete=models.CASCADE, primary_key=True, related_name="release_plan")
    position = models.IntegerField(default=-1)
    paused = models.BooleanField(default=False)
    withheld_patterns = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class ReleaseStage(models.Model):
    plan = models.ForeignKey(ReleasePlan, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveIntegerField()
    mode = models.CharField(max_length=8, choices=StageMode.choices)
    # None: the stage is reached only by hand ("advance").
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # fnmatch patterns of files that stay withheld while this stage is in force.
    withheld_patterns = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["plan", "position"], name="stage_unique_position")]
        indexes = [models.Index(fields=["scheduled_at"], name="stage_schedule")]


class AuditImmutableError(RuntimeError):
    pass


class AuditEventQuerySet(models.QuerySet):
    """SECURITY: the audit trail is append-only; bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise AuditImmutableError("Audit events cannot be changed.")

    def delete(self):
        raise AuditImmutableError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One request, decision, grant, expiry or stage change.

    Append-only: `save()` inserts and refuses updates, `delete()` and queryset updates/deletes
    raise, and on PostgreSQL a trigger refuses UPDATE and DELETE at the database level (see
    migration 0002). The foreign keys have no database constraint and do nothing on delete, so
    deleting a repo or a user leaves its history intact; the `*_name` columns keep the names.
    """

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)  # "" for the system (schedules, auto mode)
    repo = models.ForeignKey(
        Repo, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    repo_name = models.CharField(max_length=210)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    subject_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)  # "scope.action", e.g. "access.accepted"
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["repo", "created_at"], name="audit_repo_time")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError("Audit events cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("Audit events cannot be deleted.")
