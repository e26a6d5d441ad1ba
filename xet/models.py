"""Xet storage: xorbs (compressed chunk containers) and the files rebuilt from them.

Xorbs are global and content-addressed: anyone with a write token may store one, because its
bytes are checked against its hash. Files are registered by shards; a file becomes usable in a
repo (`registry.RepoObject`, and `registry.UploadReceipt` for its uploader) only after the
server rebuilt it and checked the sha256 the client claimed for it (xet.services.shard_register).
`XetUpload` records which repo a shard registered each file for.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from registry.models import Repo


class Xorb(models.Model):
    hash = models.CharField(max_length=64, primary_key=True)  # the hash string form
    size = models.PositiveBigIntegerField()  # bytes stored (chunk headers and compressed data)
    n_chunks = models.PositiveIntegerField()
    unpacked_size = models.PositiveBigIntegerField()
    # xet.format.chunk_index_pack: per chunk its stored byte range, raw size and hash.
    index = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    touched_at = models.DateTimeField(default=timezone.now, db_index=True)


class XetShard(models.Model):
    """A shard as received, kept in the shard store (registry.storage.get_xet_shard_storage) under
    its sha256: the record of what was registered, from which the files' terms can be rebuilt."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class XetFile(models.Model):
    hash = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)  # verified by rebuilding the file
    # [[xorb hash, chunk start, chunk end (exclusive), raw size], ...] in file order.
    terms = models.JSONField()
    shard = models.ForeignKey(XetShard, null=True, on_delete=models.SET_NULL, related_name="files")
    created_at = models.DateTimeField(auto_now_add=True)


class XetUpload(models.Model):
    """A file registered by a shard sent with a write token for `repo`."""

    file = models.ForeignKey(XetFile, on_delete=models.CASCADE, related_name="uploads")
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE, related_name="xet_uploads")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "repo"], name="xet_upload_unique")]
