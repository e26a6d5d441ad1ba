"""LocalBlobWriter.write_from on large streams, both pipelines (helper-thread hashing with
flush-behind for `read()` streams; reused buffers and O_DIRECT writes for `readinto()` streams
such as core.socketbody.SocketBody): the stored object and every refusal must be exactly what the
plain serial copy produces."""

import errno
import hashlib
import os
from types import SimpleNamespace

import pytest

from core.errors import PayloadTooLarge
from registry.storage import FLUSH_BEHIND, PIPELINE_MIN_SIZE, IntegrityError, LocalStorage
from registry.storage import blobwriter as storage_module

SIZE = FLUSH_BEHIND + PIPELINE_MIN_SIZE + 12345  # pipelined, with at least one background flush


@pytest.fixture(scope="module")
def content():
    return os.urandom(SIZE)


class _Trickle:
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


class _TrickleInto(_Trickle):
    """The same, read with readinto() (the socket-body pipeline)."""

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.fixture(params=[_Trickle, _TrickleInto], ids=["read", "readinto"])
def stream_class(request):
    return request.param


def test_large_copy_stores_verified_object(tmp_path, content, stream_class):
    storage = LocalStorage(tmp_path)
    sha = hashlib.sha256(content).hexdigest()
    with storage.writer(expected_sha256=sha, expected_size=SIZE) as writer:
        writer.write_from(stream_class(content), SIZE)
        assert writer.commit() == sha
    assert storage.path_for(sha).read_bytes() == content
    assert list(storage.tmp_dir.iterdir()) == []


def test_large_copy_with_wrong_hash_is_refused_and_leaves_nothing(tmp_path, content, stream_class):
    storage = LocalStorage(tmp_path)
    with pytest.raises(IntegrityError), storage.writer(expected_sha256="0" * 64, expected_size=SIZE) as writer:
        writer.write_from(stream_class(content), SIZE)
        writer.commit()
    assert list(storage.iter_objects()) == [] and list(storage.tmp_dir.iterdir()) == []


def test_oversized_stream_is_cut_off_and_leaves_nothing(tmp_path, content, stream_class):
    storage = LocalStorage(tmp_path)
    with pytest.raises(PayloadTooLarge), storage.writer(max_size=SIZE - 1) as writer:
        writer.write_from(stream_class(content))  # unknown length: pipelined, stopped at the limit
    assert list(storage.tmp_dir.iterdir()) == []


def test_stream_failing_midway_leaves_nothing(tmp_path, content, stream_class):
    storage = LocalStorage(tmp_path)
    with pytest.raises(ConnectionResetError), storage.writer(expected_size=SIZE) as writer:
        writer.write_from(stream_class(content, fail_at=FLUSH_BEHIND + 1), SIZE)
    assert list(storage.tmp_dir.iterdir()) == []


@pytest.fixture
def direct_io(tmp_path, monkeypatch):
    """Records the bytes written through O_DIRECT descriptors, or refuses them as some
    filesystems do (EINVAL) when `refuse` is set. Skips where there is no O_DIRECT."""
    probe = tmp_path / "probe"
    probe.touch()
    fd = storage_module._open_direct(probe)
    if fd is None:
        pytest.skip("this filesystem has no O_DIRECT")
    os.close(fd)
    state = SimpleNamespace(opened=set(), written=[], refuse=False)
    open_direct, pwrite_all = storage_module._open_direct, storage_module._pwrite_all

    def recording_open(path):
        fd = open_direct(path)
        state.opened.add(fd)
        return fd

    def recording_pwrite(fd, data, offset):
        if fd in state.opened:
            if state.refuse:
                raise OSError(errno.EINVAL, "Invalid argument")
            state.written.append(len(data))
        pwrite_all(fd, data, offset)

    monkeypatch.setattr(storage_module, "_open_direct", recording_open)
    monkeypatch.setattr(storage_module, "_pwrite_all", recording_pwrite)
    return state


def _store_through_readinto(storage: LocalStorage, content: bytes) -> None:
    sha = hashlib.sha256(content).hexdigest()
    with storage.writer(expected_sha256=sha, expected_size=len(content)) as writer:
        writer.write_from(_TrickleInto(content), len(content))
        assert writer.commit() == sha
    assert storage.path_for(sha).read_bytes() == content


def test_readinto_pipeline_writes_around_the_page_cache(tmp_path, content, direct_io):
    # An unaligned size: all but the last chunk's tail goes through O_DIRECT.
    _store_through_readinto(LocalStorage(tmp_path / "store"), content)
    assert SIZE - 4096 < sum(direct_io.written) < SIZE


def test_filesystem_refusing_o_direct_writes_falls_back(tmp_path, content, direct_io):
    direct_io.refuse = True
    _store_through_readinto(LocalStorage(tmp_path / "store"), content)
    assert direct_io.opened and direct_io.written == []


def test_readinto_pipeline_without_o_direct(tmp_path, content, monkeypatch):
    monkeypatch.setattr(storage_module, "_open_direct", lambda path: None)  # tmpfs, macOS
    _store_through_readinto(LocalStorage(tmp_path), content)


def test_readinto_stream_ending_early_is_refused(tmp_path, content):
    storage = LocalStorage(tmp_path)
    with pytest.raises(IntegrityError), storage.writer(expected_size=SIZE) as writer:
        writer.write_from(_TrickleInto(content[: SIZE - 1]), SIZE)
        writer.commit()
    assert list(storage.iter_objects()) == [] and list(storage.tmp_dir.iterdir()) == []


def test_readinto_copies_append_to_what_was_written_before(tmp_path, content):
    # Multipart assembly: several copies into one object, with ordinary writes in between, and an
    # unaligned start for the second copy (its writes cannot bypass the page cache).
    storage = LocalStorage(tmp_path)
    whole = content + b"-" + content[:PIPELINE_MIN_SIZE]
    sha = hashlib.sha256(whole).hexdigest()
    with storage.writer(expected_sha256=sha, expected_size=len(whole)) as writer:
        writer.write_from(_TrickleInto(content), SIZE)
        writer.write(b"-")
        writer.write_from(_TrickleInto(content[:PIPELINE_MIN_SIZE]))
        assert writer.commit() == sha
    assert storage.path_for(sha).read_bytes() == whole
