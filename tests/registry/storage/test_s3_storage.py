"""The S3 backend of the blob store against a real store (SeaweedFS): verified, content-addressed
writes, ranged reads, listing, deletion, and uploads past the multipart threshold."""

import hashlib
import io
import os
from datetime import timedelta

import pytest
from boto3.s3.transfer import TransferConfig

from core.errors import StorageUnavailable
from registry.models import StoredObject
from registry.ops.fsck import fsck
from registry.ops.gc import collect_garbage
from registry.storage import IntegrityError, content, get_read_cache, get_storage, get_xet_storage, s3storage
from tests.support.builders import make_repo
from tests.support.seaweedfs import BUCKET

pytestmark = pytest.mark.usefixtures("s3_backend")


def _keys(s3_store, prefix: str) -> list[str]:
    listing = s3_store.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_objects_are_stored_under_their_verified_sha256_and_read_by_range(s3_store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha = hashlib.sha256(data).hexdigest()
    storage = get_storage()

    with storage.writer(expected_sha256=sha, expected_size=len(data)) as writer:
        writer.write_from(io.BytesIO(data), len(data))
        assert writer.commit() == sha

    assert storage.local_path(sha) is None and storage.size(sha) == len(data)
    key = f"{storage.prefix}objects/{sha[:2]}/{sha[2:4]}/{sha}"
    assert s3_store.client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    with storage.open(sha) as handle:
        handle.seek(1_000_000)
        assert handle.read(10) == data[1_000_000:1_000_010]
        handle.seek(5)  # backwards: a new ranged read
        assert handle.read(3) == data[5:8]
        assert handle.read() == data[8:]
    assert (sha, len(data)) in [(name, size) for name, size, _ in storage.iter_objects()]
    assert list(storage.tmp_dir.iterdir()) == []  # the local spool is gone once uploaded

    storage.delete(sha)
    assert not storage.exists(sha)
    with pytest.raises(FileNotFoundError):
        storage.open(sha)


def test_content_that_does_not_match_its_announced_hash_never_reaches_the_store(s3_store):
    storage = get_storage()
    claimed = hashlib.sha256(b"what was announced").hexdigest()

    with pytest.raises(IntegrityError), storage.writer(expected_sha256=claimed, expected_size=5) as writer:
        writer.write(b"other")
        writer.commit()

    assert not storage.exists(claimed)
    assert not [key for key in _keys(s3_store, storage.prefix) if key.endswith(claimed)]
    assert list(storage.tmp_dir.iterdir()) == []


def test_large_objects_go_up_in_parts(s3_store, monkeypatch):
    """boto3's managed transfer, with a threshold lowered to keep the test small (5 MiB is S3's
    smallest part): the object arrives whole, and no upload is left open in the store."""
    monkeypatch.setattr(s3storage, "TRANSFER", TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    data = os.urandom(11 << 20)
    storage = get_storage()

    sha = storage.put_bytes(data)

    head = s3_store.client().head_object(Bucket=BUCKET, Key=storage.key_for(sha))
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')  # three parts
    with storage.open(sha) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == sha
    assert s3_store.client().list_multipart_uploads(Bucket=BUCKET, Prefix=storage.prefix).get("Uploads", []) == []


@pytest.mark.django_db
def test_areas_are_apart_and_local_copies_are_verified_files(s3_store):
    data = b"weights " * 1000
    sha = get_storage().put_bytes(data)
    assert not get_xet_storage().exists(sha)  # the Xet area has its own prefix
    StoredObject.objects.get_or_create(sha256=sha, defaults={"size": len(data)})

    path = content.local_path(sha)  # what the pickle scanner and the preview workers read

    assert path.read_bytes() == data
    assert path.is_relative_to(get_read_cache().root) and get_read_cache().root.name == "s3-cache"


@pytest.mark.django_db
def test_gc_and_fsck_cover_the_object_store(alice, s3_store):
    make_repo(alice, "m", {"a.txt": b"alpha", "w.safetensors": b"\1" * 300})
    weights = hashlib.sha256(b"\1" * 300).hexdigest()
    storage = get_storage()
    stray = storage.put_bytes(b"bytes no commit and no row names")

    report = collect_garbage(grace=timedelta(0))

    assert report.deleted_strays == 1 and not storage.exists(stray)
    assert storage.exists(weights) and storage.exists(hashlib.sha256(b"alpha").hexdigest())
    assert fsck(rehash=True).problems == []
    s3_store.client().put_object(Bucket=BUCKET, Key=storage.key_for(weights), Body=b"\2" * 300)
    assert fsck().problems == []  # same size: only a rehash sees it
    assert any("does not match its hash" in problem for problem in fsck(rehash=True).problems)
    storage.delete(weights)
    assert any("missing from the blob store" in problem for problem in fsck().problems)


def test_a_read_the_store_cuts_short_is_an_error_never_a_silent_end_of_file(s3_store):
    storage = get_storage()
    sha = storage.put_bytes(b"x" * 100_000)
    handle = storage.open(sha)  # knows the object's size
    s3_store.client().put_object(Bucket=BUCKET, Key=storage.key_for(sha), Body=b"x" * 1_000)  # the store lost bytes

    with pytest.raises(StorageUnavailable):
        while handle.read(4096):
            pass
