"""Multipart LFS parts (registry.storage.uploads): scratch files joined, hashed and made durable once on
completion. A short, long or late part is refused and leaves nothing behind; completion opens
exactly the files its ETags name and checks the whole object's sha256."""

import hashlib
import io
import os
import shutil
import time

import pytest

from core.errors import BadRequest, NotFound
from registry.storage import IntegrityError, get_storage, uploads
from tests.support.builders import make_repo

PART = 64 * 1024


class _ReadOnly(io.BytesIO):
    """A body with read() only, as Django's request is."""

    readinto = None  # type: ignore[assignment]


class _IntoOnly(io.BytesIO):
    """A body read with readinto() only, as core.socketbody.SocketBody is."""

    read = None  # type: ignore[assignment]


@pytest.fixture
def grant_for(alice, settings):
    settings.GATEHOUSE_LFS_CHUNK_SIZE = PART
    repo = make_repo(alice, "parts")

    started = []

    def grant(data: bytes) -> uploads.UploadGrant:
        started.append(uploads.multipart_start())
        return uploads.UploadGrant(
            user_id=alice.pk,
            repo_id=repo.pk,
            oid=hashlib.sha256(data).hexdigest(),
            size=len(data),
            upload_id=started[-1],
        )

    yield grant
    for upload_id in started:  # the store's tmp dir is shared by the whole session
        shutil.rmtree(uploads._part_dir(upload_id), ignore_errors=True)


def _parts(data: bytes) -> list[bytes]:
    return [data[i : i + PART] for i in range(0, len(data), PART)]


def _complete(grant, etags):
    return uploads.complete_multipart(grant, [{"partNumber": n, "etag": e} for n, e in enumerate(etags, 1)])


@pytest.mark.parametrize("stream", [_ReadOnly, _IntoOnly], ids=["read", "readinto"])
def test_parts_joined_into_a_verified_object(grant_for, stream):
    data = os.urandom(2 * PART + 10)
    grant = grant_for(data)
    etags = [uploads.receive_part(grant, n, stream(part), len(part)) for n, part in enumerate(_parts(data), 1)]
    assert len(set(etags)) == 3
    assert _complete(grant, etags).sha256 == grant.oid
    assert get_storage().path_for(grant.oid).read_bytes() == data
    # The upload is finished: a late part finds nothing to join, and no folder is made again.
    with pytest.raises(NotFound):
        uploads.receive_part(grant, 1, io.BytesIO(data[:PART]), PART)
    assert not uploads._part_dir(grant.upload_id).exists()


@pytest.mark.parametrize(("body", "match"), [(b"x" * (PART - 1), "cut short"), (b"x" * (PART + 1), "longer")])
def test_a_part_of_the_wrong_length_is_refused_and_leaves_nothing(grant_for, body, match):
    data = os.urandom(2 * PART)
    grant = grant_for(data)
    with pytest.raises(BadRequest, match=match):
        uploads.receive_part(grant, 1, io.BytesIO(body), None)  # no Content-Length to check first
    assert not any(uploads._part_dir(grant.upload_id).iterdir())


def test_completion_opens_only_the_parts_its_etags_name(grant_for):
    data = os.urandom(2 * PART)
    grant = grant_for(data)
    etags = [uploads.receive_part(grant, n, io.BytesIO(part), len(part)) for n, part in enumerate(_parts(data), 1)]
    for wrong in ('"x"', '"../part-1"', etags[0]):
        with pytest.raises(BadRequest, match="ETag"):
            _complete(grant, [etags[0], wrong])
    # A retried PUT of part 2 with other bytes: its new ETag names those bytes, and the object's
    # sha256 fails.
    replaced = uploads.receive_part(grant, 2, io.BytesIO(os.urandom(PART)), PART)
    with pytest.raises(IntegrityError):
        _complete(grant, [etags[0], replaced])
    assert not get_storage().exists(grant.oid)


def test_janitor_removes_abandoned_multipart_folders(grant_for):
    storage = get_storage()
    abandoned = uploads._part_dir(grant_for(b"a" * PART).upload_id)
    busy = grant_for(b"b" * PART)
    uploads.receive_part(busy, 1, io.BytesIO(b"b" * PART), PART)
    old = time.time() - 7200
    os.utime(abandoned, (old, old))
    storage.clean_tmp(older_than_seconds=3600)
    assert not abandoned.exists() and uploads._part_dir(busy.upload_id).is_dir()


@pytest.mark.parametrize("odd", ["x", None, 1, [1]], ids=["text", "null", "number", "list"])
def test_a_completion_entry_that_is_not_an_object_is_a_400(grant_for, odd):
    data = os.urandom(2 * PART)
    grant = grant_for(data)
    etags = [uploads.receive_part(grant, n, io.BytesIO(part), len(part)) for n, part in enumerate(_parts(data), 1)]
    entries = [odd, {"partNumber": 1, "etag": etags[0]}, {"partNumber": 2, "etag": etags[1]}]
    with pytest.raises(BadRequest, match="in order"):
        uploads.complete_multipart(grant, entries)
    with pytest.raises(BadRequest, match="in order"):  # True == 1 and 1.0 == 1 in Python: not part numbers
        uploads.complete_multipart(
            grant, [{"partNumber": True, "etag": etags[0]}, {"partNumber": 2.0, "etag": etags[1]}]
        )
    assert uploads.complete_multipart(grant, entries[1:]).sha256 == grant.oid
