"""Multipart LFS parts (registry.uploads): scratch files joined, hashed and made durable once on
completion. A short or mismatched part is refused and leaves no part behind; completion names
parts by the ETags it handed out and checks the whole object's sha256."""

import hashlib
import io
import os

import pytest

from core.errors import BadRequest
from registry import uploads
from registry.storage import IntegrityError, get_storage
from tests.support.builders import make_repo

PART = 64 * 1024


class _Into(io.BytesIO):
    """A body read with readinto() only, as core.socketbody.SocketBody is."""

    read = None  # type: ignore[assignment]


@pytest.fixture
def grant_for(alice, settings):
    settings.GATEHOUSE_LFS_CHUNK_SIZE = PART
    repo = make_repo(alice, "parts")

    def grant(data: bytes) -> uploads.UploadGrant:
        return uploads.UploadGrant(
            user_id=alice.pk, repo_id=repo.pk, oid=hashlib.sha256(data).hexdigest(), size=len(data),
            upload_id=uploads.new_upload_id(),
        )  # fmt: skip

    return grant


def _parts(data: bytes) -> list[bytes]:
    return [data[i : i + PART] for i in range(0, len(data), PART)]


@pytest.mark.parametrize("stream", [io.BytesIO, _Into], ids=["read", "readinto"])
def test_parts_joined_into_a_verified_object(grant_for, stream):
    data = os.urandom(2 * PART + 10)
    grant = grant_for(data)
    etags = [uploads.receive_part(grant, n, stream(part), len(part)) for n, part in enumerate(_parts(data), 1)]
    assert len(set(etags)) == 3
    stored = uploads.complete_multipart(grant, [{"partNumber": n, "etag": e} for n, e in enumerate(etags, 1)])
    assert stored.sha256 == grant.oid
    assert get_storage().path_for(grant.oid).read_bytes() == data


def test_a_part_cut_short_is_refused_and_leaves_nothing(grant_for):
    data = os.urandom(2 * PART)
    grant = grant_for(data)
    with pytest.raises(BadRequest, match="cut short"):
        uploads.receive_part(grant, 1, _Into(data[: PART - 1]), None)
    assert not any(uploads._part_dir(grant.upload_id).iterdir())


def test_completion_refuses_unknown_etags_and_wrong_content(grant_for):
    data = os.urandom(2 * PART)
    grant = grant_for(data)
    etags = [uploads.receive_part(grant, n, io.BytesIO(part), len(part)) for n, part in enumerate(_parts(data), 1)]
    with pytest.raises(BadRequest, match="ETag"):
        uploads.complete_multipart(grant, [{"partNumber": 1, "etag": etags[0]}, {"partNumber": 2, "etag": '"x"'}])
    # A part replaced by other bytes (a retried PUT of the wrong slice): the object's sha256 fails.
    etags[1] = uploads.receive_part(grant, 2, io.BytesIO(os.urandom(PART)), PART)
    with pytest.raises(IntegrityError):
        uploads.complete_multipart(grant, [{"partNumber": n, "etag": e} for n, e in enumerate(etags, 1)])
    assert not get_storage().exists(grant.oid)
