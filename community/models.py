"""Discussions and pull requests of a repo, their events, and the moderation around them.

Discussions and pull requests share one numbering per repo. A pull request's changes live in the
registry under `refs/pr/N`; the discussion remembers where it forked from (`merge_base_oid`) so
that conflicts with its base branch can be computed, and the commit a merge produced.
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_public_id() -> str:
    """24 lowercase hex characters, like the Hub's ObjectIds (the client lower-cases ids)."""
    return secrets.token_hex(12)


class Status(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    DRAFT = "draft"


class Discussion(models.Model):
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="discussions")
    num = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    is_pull_request = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # Pull requests only: the branch they target, the base commit they forked from, the merge result.
    base_ref = models.CharField(max_length=255, blank=True)
    merge_base_oid = models.CharField(max_length=40, blank=True)
    merge_commit_oid = models.CharField(max_length=40, blank=True)
    is_pinned = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repo", "num"], name="discussion_unique_num")]
        indexes = [models.Index(fields=["repo", "is_pinned", "num"])]

    @property
    def ref_name(self) -> str:
        return f"refs/pr/{self.num}"

    @property
    def is_active_pull_request(self) -> bool:
        return self.is_pull_request and self.status in (Status.OPEN, Status.DRAFT)


class EventType(models.TextChoices):
    COMMENT = "comment"
    STATUS_CHANGE = "status-change"
    TITLE_CHANGE = "title-change"
    COMMIT = "commit"


class Event(models.Model):
    """One entry of a thread. Comments carry their Markdown in `raw`; the others their `data`
    ({"status"}, {"from", "to"}, {"oid", "subject"}). HTML is rendered on write and stamped, so a
    sanitiser fix (a new stamp) still applies to every stored comment (community.rendering)."""

    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=16, choices=EventType.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)
    raw = models.TextField(blank=True)
    # `raw` rendered when it was written, valid while `html_version` is community.rendering's
    # current stamp (a renderer or sanitiser change makes every row stale at once).
    html = models.TextField(blank=True, default="")
    html_version = models.CharField(max_length=64, blank=True, default="")
    edited_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Hiding is irreversible: the text stays for moderators' records but is never served again.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["discussion", "id"])]

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class CommentRevision(models.Model):
    """A superseded version of a comment, kept when the comment is edited."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="revisions")
    raw = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()


class CommunitySettings(models.Model):
    """Per-repo community switches; a repo without a row has discussions enabled."""

    repo = models.OneToOneField("registry.Repo", on_delete=models.CASCADE, related_name="community_settings")
    discussions_disabled = models.BooleanField(default=False)


class Report(models.Model):
    """A comment or thread reported to the repo's moderators (never public)."""

    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="reports")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Watch(models.Model):
    """A user who hears about every new thread and comment on a repo."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="watchers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "repo"], name="watch_unique")]


class CollectionTheme(models.TextChoices):
    ORANGE = "orange"
    BLUE = "blue"
    GREEN = "green"
    PURPLE = "purple"
    PINK = "pink"
    INDIGO = "indigo"


class Collection(models.Model):
    """A curated, ordered list of repos (and other collections) owned by a user or an org.

    Its slug is `namespace/title-slug-<public_id>`: the title part follows the title, the id never
    changes, and lookups go by the id (community.collections.access)."""

    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="collections"
    )
    owner_org = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="collections"
    )
    title = models.CharField(max_length=100)
    title_slug = models.CharField(max_length=120)
    description = models.CharField(max_length=150, blank=True)
    private = models.BooleanField(default=False)
    theme = models.CharField(max_length=8, choices=CollectionTheme.choices, default=CollectionTheme.ORANGE)
    position = models.PositiveIntegerField(default=0)
    upvotes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner_user__isnull=False, owner_org__isnull=True)
                | models.Q(owner_user__isnull=True, owner_org__isnull=False),
                name="collection_exactly_one_owner",
            ),
        ]
        indexes = [models.Index(fields=["last_updated"])]

    @property
    def owner(self):
        """The owning User or Organization (exactly one is set: collection_exactly_one_owner)."""
        owner = self.owner_user or self.owner_org
        assert owner is not None
        return owner

    @property
    def namespace(self) -> str:
        return self.owner_user.username if self.owner_user is not None else self.owner.name

    @property
    def slug(self) -> str:
        return f"{self.namespace}/{self.title_slug}-{self.public_id}"


class CollectionItemType(models.TextChoices):
    MODEL = "model"
    DATASET = "dataset"
    COLLECTION = "collection"


class CollectionItem(models.Model):
    """One entry of a collection: a repo (model or dataset) or another collection. Shown only to
    callers who may see what it points at (community.collections.selectors)."""

    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    item_type = models.CharField(max_length=10, choices=CollectionItemType.choices)
    repo = models.ForeignKey(
        "registry.Repo", null=True, blank=True, on_delete=models.CASCADE, related_name="collection_items"
    )
    target = models.ForeignKey(Collection, null=True, blank=True, on_delete=models.CASCADE, related_name="included_in")
    position = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "repo"], name="collectionitem_unique_repo"),
            models.UniqueConstraint(fields=["collection", "target"], name="collectionitem_unique_target"),
            models.CheckConstraint(
                condition=models.Q(repo__isnull=False, target__isnull=True)
                | models.Q(repo__isnull=True, target__isnull=False),
                name="collectionitem_exactly_one_object",
            ),
        ]
        indexes = [models.Index(fields=["collection", "position"])]


class Like(models.Model):
    """A user's like of a repo; `Repo.likes` counts them (community.likes.services keeps it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    repo = models.ForeignKey("registry.Repo", on_delete=models.CASCADE, related_name="like_rows")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "repo"], name="like_unique")]
        indexes = [models.Index(fields=["repo", "-created_at"])]
