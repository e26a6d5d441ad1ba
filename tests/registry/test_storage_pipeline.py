"""LocalBlobWriter.write_from on large streams (helper-thread hashing, flush-behind): the stored
object and every refusal must be exactly what the plain serial copy produces."""

import hashlib
import io
import os

import pytest

from core.errors import PayloadTooLarge
from registry.storage import FLUSH_BEHIND, PIPELINE_MIN_SIZE, IntegrityError, LocalStorage

SIZE = FLUSH_BEHIND + PIPELINE_MIN_SIZE + 12345  # pipelined, with at least one background flush


@pytest.fixture(scope="module")
def content():
    return os.urandom(SIZE)


class _Trickle(io.RawIOBase):
    """Returns short reads, as a socket does."""

    def __init__(self, data: bytes, fail_at: int | None = None):
        self._data, self._pos, self._fail_at = data, 0, fail_at

    def read(self, size=-1):
        if self._fail_at is not None and self._pos >= self._fail_at:
            raise ConnectionResetError("client went away")
        size = min(size, 300_001)
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk


def test_large_copy_stores_verified_object(tmp_path, content):
    storage = LocalStorage(tmp_path)
    sha = hashlib.sha256(content).hexdigest()
    with storage.writer(expected_sha256=sha, expected_size=SIZE) as writer:
        writer.write_from(_Trickle(content), SIZE)
        assert writer.commit() == sha
    assert storage.path_for(sha).read_bytes() == content
    assert list(storage.tmp_dir.iterdir()) == []


def test_large_copy_with_wrong_hash_is_refused_and_leaves_nothing(tmp_path, content):
    storage = LocalStorage(tmp_path)
    with pytest.raises(IntegrityError), storage.writer(expected_sha256="0" * 64, expected_size=SIZE) as writer:
        writer.write_from(_Trickle(content), SIZE)
        writer.commit()
    assert list(storage.iter_objects()) == [] and list(storage.tmp_dir.iterdir()) == []


def test_oversized_stream_is_cut_off_and_leaves_nothing(tmp_path, content):
    storage = LocalStorage(tmp_path)
    with pytest.raises(PayloadTooLarge), storage.writer(max_size=SIZE - 1) as writer:
        writer.write_from(_Trickle(content))  # unknown length: pipelined, stopped at the limit
    assert list(storage.tmp_dir.iterdir()) == []


def test_stream_failing_midway_leaves_nothing(tmp_path, content):
    storage = LocalStorage(tmp_path)
    with pytest.raises(ConnectionResetError), storage.writer(expected_size=SIZE) as writer:
        writer.write_from(_Trickle(content, fail_at=FLUSH_BEHIND + 1), SIZE)
    assert list(storage.tmp_dir.iterdir()) == []
