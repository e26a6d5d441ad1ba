"""License catalogue rows, the exact texts users accepted, per-repo settings and acknowledgments."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class License(models.Model):
    """A catalogue entry, copied from `licenses.catalogue_data` by `catalogue_sync` (never edited here)."""

    id = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    link = models.URLField(max_length=300)
    summary = models.TextField()
    # The license's own terms say derivatives must keep its use-based restrictions.
    has_use_restrictions = models.BooleanField(default=False)
    # Licenses sharing a non-empty group carry each other's restrictions (see catalogue_data).
    restriction_group = models.CharField(max_length=64, blank=True)
    # Repos under this license need each user's acknowledgment before downloading, by default.
    requires_acknowledgment = models.BooleanField(default=False)
    text_key = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.id

    def carries_restrictions_of(self, base: License) -> bool:
        """Whether a derivative under this license keeps the use restrictions of `base`."""
        if not base.has_use_restrictions or self.id == base.id:
            return True
        return bool(base.restriction_group) and self.restriction_group == base.restriction_group


class LicenseText(models.Model):
    """An exact license text that a user accepted, kept by its sha256 (the license version), so the
    record stays readable after the repo's files change or the repo is gone."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class RepoLicenseSettings(models.Model):
    """The author's opt-in: require acknowledgment whatever the license (RAIL licenses always do)."""

    repo = models.OneToOneField("registry.Repo", on_delete=models.CASCADE, related_name="license_settings")
    require_acknowledgment = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


class AcknowledgmentSource(models.TextChoices):
    WEB = "web"
    API = "api"
    ACCESS_REQUEST = "access-request"


class Acknowledgment(models.Model):
    """A user accepted one exact license text (version) of one repo. It covers every revision of
    the repo whose license has this id and this text."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="license_acks")
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="license_acks")
    license_id = models.CharField(max_length=100)
    license_name = models.CharField(max_length=200, blank=True)  # the card's name for `other`
    text = models.ForeignKey(LicenseText, on_delete=models.PROTECT, related_name="acknowledgments")
    commit_oid = models.CharField(max_length=40)  # the revision the user was shown
    location = models.CharField(max_length=500)  # 'LICENSE@<commit>' or the catalogue source
    source = models.CharField(max_length=16, choices=AcknowledgmentSource.choices)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "repo", "license_id", "text"], name="ack_unique_version"),
        ]
        indexes = [models.Index(fields=["repo", "accepted_at"])]

    @property
    def version(self) -> str:
        return self.text_id
