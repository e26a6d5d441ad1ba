"""The bounded pack reader of git push (registry.git.packs), over packs made by real git and by hand."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zlib

import pytest

from registry.git import gitobjects, packs

BOUNDS = packs.PackBounds(max_objects=100, max_object_bytes=1 << 20, max_inflated=4 << 20, seconds=30)


def _header(kind: int, size: int) -> bytes:
    first = (kind << 4) | (size & 15)
    size >>= 4
    out = bytearray()
    while size:
        out.append(first | 0x80)
        first = size & 0x7F
        size >>= 7
    out.append(first)
    return bytes(out)


def _pack(*entries: bytes, count: int | None = None) -> io.BytesIO:
    body = b"PACK" + (2).to_bytes(4, "big") + (len(entries) if count is None else count).to_bytes(4, "big")
    body += b"".join(entries)
    return io.BytesIO(body + hashlib.sha1(body, usedforsecurity=False).digest())


def _blob(data: bytes, declared: int | None = None) -> bytes:
    return _header(packs.BLOB, len(data) if declared is None else declared) + zlib.compress(data)


def _nothing_held(oid: str):
    return None


def test_a_pack_made_by_git_reads_back_every_object_with_its_id(tmp_path):
    def git(*args: str, stdin: bytes | None = None) -> bytes:
        return subprocess.run(["git", *args], cwd=tmp_path, input=stdin, capture_output=True, check=True).stdout

    git("init", "-q")
    texts = [f"file {i}\n".encode() * (i + 1) for i in range(20)]
    oids = [git("hash-object", "-w", "--stdin", stdin=text).decode().strip() for text in texts]
    raw = git("pack-objects", "--stdout", stdin="\n".join(oids).encode() + b"\n")
    objects = packs.read_pack(io.BytesIO(raw), BOUNDS, _nothing_held)
    assert set(objects) == set(oids)
    assert all(objects[oid].raw == text for oid, text in zip(oids, texts, strict=True))


def test_bounds_are_checked_before_the_bytes_are_inflated():
    bomb = b"\0" * (2 << 20)
    with pytest.raises(packs.PackRefused, match="larger than"):
        packs.read_pack(_pack(_blob(bomb)), BOUNDS, _nothing_held)
    with pytest.raises(packs.PackRefused, match="inflates past"):  # declares 10 bytes, holds 2 MiB
        packs.read_pack(_pack(_blob(bomb, declared=10)), BOUNDS, _nothing_held)
    with pytest.raises(packs.PackRefused, match="at most 100"):
        packs.read_pack(_pack(_blob(b"x"), count=101), BOUNDS, _nothing_held)
    many = [_blob(bytes([i]) * (900 << 10)) for i in range(5)]  # 4.5 MiB in all, past the 4 MiB bound on the whole
    with pytest.raises(packs.PackRefused, match="inflates to more"):
        packs.read_pack(_pack(*many), BOUNDS, _nothing_held)
    tampered = _pack(_blob(b"hello\n")).getvalue()
    with pytest.raises(packs.PackRefused, match="checksum"):
        packs.read_pack(io.BytesIO(tampered[:-1] + bytes([tampered[-1] ^ 1])), BOUNDS, _nothing_held)


def test_a_delta_on_an_object_the_repo_does_not_hold_is_refused():
    base = b"base content\n" * 5  # 65 bytes: one varint byte
    base_oid = gitobjects.blob_id(base)
    # Delta: source size, target size, then "copy 13 bytes from offset 0".
    delta = bytes([len(base), 13, 0x90, 13])
    entry = _header(packs.REF_DELTA, len(delta)) + bytes.fromhex(base_oid) + zlib.compress(delta)
    with pytest.raises(packs.PackRefused, match="neither in the pack nor in this repo"):
        packs.read_pack(_pack(entry), BOUNDS, _nothing_held)
    objects = packs.read_pack(_pack(entry), BOUNDS, lambda oid: (packs.BLOB, base) if oid == base_oid else None)
    assert [item.raw for item in objects.values()] == [b"base content\n"]
    huge = bytes([len(base), 0x80, 0x80, 0x80, 0x01, 0x90, 13])  # declares a 2 MiB result
    entry = _header(packs.REF_DELTA, len(huge)) + bytes.fromhex(base_oid) + zlib.compress(huge)
    with pytest.raises(packs.PackRefused, match="larger than"):
        packs.read_pack(_pack(entry), BOUNDS, lambda oid: (packs.BLOB, base))
