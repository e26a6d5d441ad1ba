"""What the mirror keeps: users' upstream tokens (encrypted), the upstream content it stored,
and the audit trail of pulls."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UpstreamCredential(models.Model):
    """A user's own token for one upstream (GATEHOUSE_UPSTREAMS name), encrypted with
    GATEHOUSE_UPSTREAM_TOKEN_KEYS (mirror/crypto.py). Never shown again, never logged."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    upstream = models.CharField(max_length=100)
    ciphertext = models.TextField()
    upstream_username = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "upstream"], name="mirror_one_credential_per_upstream")]


class ObjectState(models.TextChoices):
    FETCHING = "fetching"
    STORED = "stored"


class MirrorObject(models.Model):
    """Upstream content, by the id the upstream names it with (`oid`: the sha256 of an LFS file,
    the git blob id of a small one), stored in the mirror's own area of the blob store under its
    sha256. The row is also the fetch lock: one request holds it (FETCHING, under a lease it
    renews) while it fetches; concurrent first requests on its host follow the fetch's spool file,
    others wait for STORED. `size` is the size the upstream announced from the fetch's start, so
    eviction counts fetches in progress too."""

    upstream = models.CharField(max_length=100)
    oid = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=ObjectState.choices, default=ObjectState.FETCHING)
    lease_until = models.DateTimeField(null=True)
    fetched_at = models.DateTimeField(null=True)
    # When it was last served from the store, to the minute (mirror.services.object_served_touch
    # writes at most once a minute per object): eviction drops the least recently served first.
    last_served_at = models.DateTimeField(null=True)
    fetch_count = models.PositiveIntegerField(default=0)  # upstream transfers begun, for operators
    # Pickle-format content is scanned before it is served: "" (not needed), or the scan's verdict
    # ("queued" until it ran; only "safe" is served).
    scan_status = models.CharField(max_length=16, blank=True)
    scan_findings = models.JSONField(default=dict, blank=True)
    filename = models.CharField(max_length=255, blank=True)  # the name it was first fetched under (the scanner's hint)
    # The fetch in progress (mirror/spool.py): the host whose local file receives the bytes, that
    # file (the verifying writer's temporary, which names the fetch), and the repo it is fetched
    # for ("type:id"). Followers on the same host tail the file; the stored row keeps the path of
    # the spool that was verified.
    spool_host = models.CharField(max_length=255, blank=True)
    spool_path = models.CharField(max_length=1024, blank=True)
    fetch_repo = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upstream", "oid"], name="mirror_one_object_per_oid")]


class MirrorRepoObject(models.Model):
    """The upstream served the bytes of `oid` for this repo (a fetch through it, or a spot check
    of the stored copy against it). SECURITY (found by a review): stored content is shared by oid,
    and an upstream that lets a pointer name a hash it never received would otherwise make the
    mirror hand one repo's private bytes to whoever may read another repo naming that hash. So
    content is served for a repo only once that repo's upstream served it."""

    upstream = models.CharField(max_length=100)
    repo_type = models.CharField(max_length=16)
    repo_id = models.CharField(max_length=200)
    oid = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["upstream", "repo_type", "repo_id", "oid"], name="mirror_one_proof_per_repo"
            )
        ]


class MirrorPull(models.Model):
    """One download of mirrored content: who, which repo, which commit, which file, from where.
    Append-only (nothing in the app updates or deletes rows)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_label = models.CharField(max_length=200)
    upstream = models.CharField(max_length=100)
    repo_type = models.CharField(max_length=16)
    repo_id = models.CharField(max_length=200, db_index=True)
    commit = models.CharField(max_length=64)
    path = models.CharField(max_length=1024)
    oid = models.CharField(max_length=64)
    size = models.BigIntegerField()
    source = models.CharField(max_length=16)  # "upstream" (fetched now), "cache", "stale" (upstream down)
    # Allowed by an operator's acceptance of the repo's upstream gate or license (MirrorAcceptance),
    # not by the caller's own upstream rights.
    acceptance = models.ForeignKey("MirrorAcceptance", null=True, on_delete=models.PROTECT, related_name="+")


class MirrorAcceptance(models.Model):
    """An operator accepted a gated upstream repo's terms (its gate or license) on the
    organisation's behalf: signed-in users may download it through the operator's upstream access
    without passing the gate themselves. Recorded (who, when, why) and never updated; every pull
    it allows names it. Never opens a repo the upstream hides from the caller (private)."""

    at = models.DateTimeField(auto_now_add=True)
    upstream = models.CharField(max_length=100)
    repo_type = models.CharField(max_length=16)
    repo_id = models.CharField(max_length=200)
    accepted_by = models.CharField(max_length=200)
    reason = models.TextField()
    revoked_at = models.DateTimeField(null=True)


class MirrorLicenseAcknowledgment(models.Model):
    """A user accepted one exact license text (version) of a mirrored repo, through the same flow
    local repos use (licenses/: the text kept by its sha256 in `LicenseText`). Like a local
    `Acknowledgment` it covers every revision whose license has this id and this text; a new
    text needs a new acceptance. Append-only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    upstream = models.CharField(max_length=100)
    repo_type = models.CharField(max_length=16)
    repo_id = models.CharField(max_length=200)  # folded (lower case): ids are case-insensitive
    license_id = models.CharField(max_length=100)
    license_name = models.CharField(max_length=200, blank=True)
    text = models.ForeignKey("licenses.LicenseText", on_delete=models.PROTECT, related_name="+")
    commit_oid = models.CharField(max_length=40)  # the upstream revision the user was shown
    location = models.CharField(max_length=500)
    source = models.CharField(max_length=16)  # licenses.models.AcknowledgmentSource
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "upstream", "repo_type", "repo_id", "license_id", "text"],
                name="mirror_ack_unique_version",
            )
        ]

    @property
    def version(self) -> str:
        return self.text_id
