"""Repos and their git-compatible history.

Trees and blobs are global and content-addressed (a tree id is the git tree id); commits and refs
belong to one repo. File content lives in the blob store under its sha256: a regular file's git
blob is the content itself, an LFS file's git blob is its pointer text.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class RepoType(models.TextChoices):
    MODEL = "model"
    DATASET = "dataset"


# The URL's plural ("/api/models", "/models") of each repo type.
PLURAL_TYPES = {"models": RepoType.MODEL, "datasets": RepoType.DATASET}


class GatedMode(models.TextChoices):
    OFF = ""
    AUTO = "auto"
    MANUAL = "manual"


class Repo(models.Model):
    repo_type = models.CharField(max_length=8, choices=RepoType.choices, default=RepoType.MODEL)
    namespace = models.CharField(max_length=96)
    name = models.CharField(max_length=96)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="repos"
    )
    owner_org = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="repos"
    )
    private = models.BooleanField(default=False)
    gated = models.CharField(max_length=8, choices=GatedMode.choices, default=GatedMode.OFF, blank=True)
    # Taken down by an operator (gating.takedown): only the repo's own people reach its content;
    # visitors see the reason. Who and when are in the audit trail too.
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who created it: an organisation's contributors write to the repos they created (gating.policy).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_branch = models.CharField(max_length=255, default="main")
    # Moves when history is rewritten (super-squash drops commits): per-process caches of commit
    # facts are keyed by it (registry.selectors._commit_facts).
    history_epoch = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now_add=True)
    downloads = models.PositiveBigIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    # Card metadata of the default branch head, refreshed by every commit to that branch.
    card_data = models.JSONField(default=dict, blank=True)
    license = models.CharField(max_length=100, blank=True, db_index=True)
    pipeline_tag = models.CharField(max_length=100, blank=True, db_index=True)
    library_name = models.CharField(max_length=100, blank=True, db_index=True)
    base_models = models.JSONField(default=list, blank=True)
    used_storage = models.PositiveBigIntegerField(default=0)
    # Deleted repos are kept, invisible to all and with their name reserved, for
    # GATEHOUSE_REPO_DELETE_GRACE_DAYS; their owner or an operator may restore them meanwhile.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Ids are case-insensitive, as on the Hub: one repo per folded id. The same expression
            # index serves every lookup (gating.visibility filters on lower(namespace), lower(name)).
            models.UniqueConstraint(
                models.F("repo_type"), Lower("namespace"), Lower("name"), name="repo_unique_folded_id"
            ),
            models.CheckConstraint(
                condition=models.Q(owner_user__isnull=False, owner_org__isnull=True)
                | models.Q(owner_user__isnull=True, owner_org__isnull=False),
                name="repo_exactly_one_owner",
            ),
        ]
        # One index per sort of list_models; its search has a trigram index on PostgreSQL
        # (registry/migrations/0016_repo_list_indexes.py: an expression index Django cannot declare).
        indexes = [
            models.Index(fields=["last_modified"]),
            models.Index(fields=["downloads"]),
            models.Index(fields=["likes"], name="repo_likes"),
            models.Index(fields=["created_at"], name="repo_created_at"),
            models.Index(fields=["namespace", "name"], name="repo_id_order"),
        ]

    def __str__(self) -> str:
        return self.repo_id

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_prefix(self) -> str:
        """Web-style prefix: none for models, 'datasets/' for datasets."""
        return "" if self.repo_type == RepoType.MODEL else f"{self.repo_type}s/"

    @property
    def web_path(self) -> str:
        return f"/{self.url_prefix}{self.repo_id}"


def with_folded_id(queryset, *, repo_type: str, folded_namespace: str, folded_name: str):
    """`queryset` (of repos or redirects) narrowed to one id, compared case-insensitively as the
    Hub compares ids. The values must be folded already (`core.names.fold`): prepared queries pass
    them as parameters, so the folding of the column side matches the expression index exactly."""
    return queryset.alias(_folded_namespace=Lower("namespace"), _folded_name=Lower("name")).filter(
        repo_type=repo_type, _folded_namespace=folded_namespace, _folded_name=folded_name
    )


class RepoTag(models.Model):
    """Tags of the default branch head (card tags plus derived ones), for list filters."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "tag"], name="repotag_unique")]
        indexes = [models.Index(fields=["tag"])]


class RepoRedirect(models.Model):
    """An old id of a moved repo; requests to it are redirected to the repo's current id."""

    repo_type = models.CharField(max_length=8, choices=RepoType.choices)
    namespace = models.CharField(max_length=96)
    name = models.CharField(max_length=96)
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="redirects")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.F("repo_type"), Lower("namespace"), Lower("name"), name="redirect_unique_folded_id"
            )
        ]


class StoredObject(models.Model):
    """Content present in the blob store, verified (sha256 and size) when it was written."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a commit references the object; the garbage collector spares recent ones.
    touched_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set when the content is also stored as Xet chunks (the xet app verified that the file
    # rebuilds to exactly this sha256). Content with a Xet hash may have no plain copy at all.
    xet_hash = models.CharField(max_length=64, blank=True, default="")


class RepoObject(models.Model):
    """Content a repo may reference: uploaded to it, or committed to it.

    SECURITY: an `lfsFile` commit line names content by sha256 alone. Without this record anyone
    who learns the hash of a gated or private file (tree listings show it) could commit it into a
    repo of their own and download it there. Content reaches a repo only by uploading its bytes
    (proof of possession) or by being committed to that repo already."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="objects_available")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "sha256"], name="repo_object_unique")]
        # Which repos hold a content, by sha256 alone (the alias repair of registry.ops.aliasing).
        indexes = [models.Index(fields=["sha256"], name="repo_object_sha256")]


class UploadReceipt(models.Model):
    """A user sent the bytes of this content to this repo (proof of possession).

    SECURITY: `RepoObject` lets a repo's writers commit its content anywhere in it. Contributors
    without write access (pull requests) may commit by sha256 only content they uploaded
    themselves: otherwise they could copy a file the release stage withholds, or one from an
    older revision, to a path of their own pull request and download it there."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="upload_receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_receipts")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "user", "sha256"], name="upload_receipt_unique")]


class QuarantinedContent(models.Model):
    """Content a repo's tree names but that was never proven to belong to it: left by versions
    before pointer-shaped files were LFS references (see `registry.ops.aliasing`). Nothing is served
    without proof anyway (`content.require_in_repo`); this row says why, so the repo's writers are
    told which files to upload again, and it goes when the content is uploaded to the repo."""

    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="quarantined_content")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "sha256"], name="quarantined_content_unique")]


class Blob(models.Model):
    """A git blob: for LFS files the pointer; `sha256` and `size` always describe the content."""

    oid = models.CharField(max_length=40, primary_key=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    is_lfs = models.BooleanField(default=False)


class Tree(models.Model):
    """A git tree. `entries` lists children in git order:
    {"name", "type": "file"|"directory", "oid", "size"?, "lfs"?: {"sha256", "size", "pointerSize"}}.
    Sizes and LFS data are derived from the blob ids, so they never disagree with `oid`."""

    oid = models.CharField(max_length=40, primary_key=True)
    entries = models.JSONField(default=list)


class Commit(models.Model):
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="commits")
    oid = models.CharField(max_length=40)
    tree_oid = models.CharField(max_length=40)
    parent_oids = models.JSONField(default=list)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=200)
    title = models.TextField()
    message = models.TextField()
    created_at = models.DateTimeField()
    # The exact git object text, so the id can be re-verified and the object served to git.
    raw = models.BinaryField()
    # Made on a pull request's ref (refs/pr/N), where contributors without write access commit:
    # such a commit never puts a license in force (licenses.selectors.license_in_force_at).
    made_on_pull_request = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "oid"], name="commit_unique_per_repo")]
        indexes = [models.Index(fields=["repo", "created_at"])]


class RefKind(models.TextChoices):
    BRANCH = "branch"
    TAG = "tag"
    PULL_REQUEST = "pr"


class Ref(models.Model):
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="refs")
    name = models.CharField(max_length=255)  # full ref: refs/heads/main, refs/tags/v1, refs/pr/3
    kind = models.CharField(max_length=8, choices=RefKind.choices)
    commit_oid = models.CharField(max_length=40)
    message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "name"], name="ref_unique_per_repo")]

    @property
    def short_name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.name.startswith(prefix):
                return self.name[len(prefix) :]
        return self.name


class ScanStatus(models.TextChoices):
    QUEUED = "queued"
    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    UNSAFE = "unsafe"
    ERROR = "error"
    UNSCANNED = "unscanned"  # a format the scanner cannot read (7z, unknown binary): not safe


# How an `error` verdict given to a scan that was queued and never ran begins (scans_requeue_stale).
SCAN_ABANDONED_PREFIX = "The scan was queued "


class FileScan(models.Model):
    """Pickle-import scan of one piece of content (same bytes, same verdict, whatever the name).

    Unknown is never safe: only `safe` counts as safe; `error` (timeouts, unparseable containers,
    archive bombs, a scan the worker never ran after `attempts` sends) and `unscanned` (content
    the scanner cannot read) fail closed. Every committed file has a row, whatever its name.
    `queued_at` is when the scan was last sent to the worker: the beat re-sends scans left
    `queued` too long (see `scans_requeue_stale`)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=12, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    imports = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    scanner = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["status", "queued_at"], name="filescan_status_queued_at")]


class BackupRun(models.Model):
    """A backup in progress (registry.ops.backup): garbage collection refuses to run while any
    row exists, since blobs the backup's database snapshot names may no longer be referenced.
    In the database, which every host and the backup share (a flag in the cache was evicted by
    the embedded default's file cache and lost between hosts of different cache settings). A
    backup killed before it ended leaves its row: `gc_blobs --clear-backup-flag` removes it."""

    started_at = models.DateTimeField(default=timezone.now)
    destination = models.CharField(max_length=1024)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
