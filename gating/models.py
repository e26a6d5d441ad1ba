"""Access requests and grants, delegated reviewers, staged release plans, and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RequestStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class AccessRequest(models.Model):
    """One user's access to one gated repo. `accepted` is the grant; it may carry an expiry."""

    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="access_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    status = models.CharField(max_length=8, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_recorded = models.BooleanField(default=False)
    # False for access a reviewer granted to a user who never asked (`access_grant`): the user
    # shared nothing with the authors, so the lists show no email for them, as on the Hub.
    requested_by_user = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "user"], name="access_request_unique")]
        indexes = [
            models.Index(fields=["repo", "status", "created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    @property
    def request_id(self) -> str:
        return f"{self.pk:024x}"

    @property
    def shared_email(self) -> str | None:
        """The email the user shared with the authors by asking; None for a manual grant."""
        return (self.user.email or None) if self.requested_by_user else None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class RepoReviewer(models.Model):
    """A user delegated to review access requests of one repo (besides its admins)."""

    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "user"], name="reviewer_unique")]


class NotifyMode(models.TextChoices):
    IMMEDIATE = "immediate"
    DAILY = "daily"


class GatingConfig(models.Model):
    repo = models.OneToOneField("registry.Repo", on_delete=models.CASCADE, related_name="gating_config")
    notify_mode = models.CharField(max_length=10, choices=NotifyMode.choices, default=NotifyMode.IMMEDIATE)
    notify_email = models.EmailField(blank=True)
    # Grants given by automatic approval last this many days (0: no expiry).
    auto_grant_days = models.PositiveIntegerField(default=0)
    last_digest_at = models.DateTimeField(null=True, blank=True)


class StageMode(models.TextChoices):
    PRIVATE = "private"
    GATED_MANUAL = "gated_manual"
    GATED_AUTO = "gated_auto"
    PUBLIC = "public"


class ReleasePlan(models.Model):
    repo = models.OneToOneField("registry.Repo", on_delete=models.CASCADE, related_name="release_plan")
    paused = models.BooleanField(default=False)
    current_position = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class ReleaseStage(models.Model):
    """One step of a plan: a visibility/gating mode, an optional time, files still withheld."""

    plan = models.ForeignKey(ReleasePlan, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveIntegerField()
    mode = models.CharField(max_length=12, choices=StageMode.choices)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    withheld_patterns = models.JSONField(default=list, blank=True)
    # The sha256 of every file the patterns match at a branch head, kept by release.py while the
    # stage is current: those bytes are withheld at every revision, whatever their name there.
    withheld_content = models.JSONField(default=list, blank=True)
    previews_public = models.BooleanField(default=False)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["plan", "position"], name="stage_position_unique")]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of access and release decisions.

    SECURITY: rows cannot be changed or removed through the ORM (save refuses updates, delete and
    bulk update/delete raise), and on PostgreSQL a trigger refuses UPDATE and DELETE outright. The
    repo and users are referenced without database constraints so that deleting them keeps the
    trail; `repo_label` keeps the id readable after a rename or deletion."""

    repo = models.ForeignKey(
        "registry.Repo", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    repo_label = models.CharField(max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    subject_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["repo", "created_at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")
