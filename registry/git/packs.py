"""Reading a pushed git pack within bounds, into a request-local set of verified objects.

A pack is a header (`PACK`, version 2 or 3, object count), the objects (a type-and-size header,
for deltas the base, then a zlib stream) and a SHA-1 trailer over everything before it. Nothing
read here is trusted: the trailer is checked, every object is inflated no further than the size
its header declares, a delta's result no larger than its own header declares, and both within
`PackBounds`; every object's id is computed from its bytes and its format checked by dulwich's
`check()` (tree entries, commit and tag headers).

SECURITY: a delta's base is looked up in this pack first, then through `base_lookup`, which the
caller scopes to one repo (an object of another repo is not a base: `PackRefused`). Objects are
held in memory (bounded by `max_inflated`) and persisted by nobody here: a refused push leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from dulwich.errors import ObjectFormatException
from dulwich.objects import ShaFile
from dulwich.pack import apply_delta

COMMIT, TREE, BLOB, TAG, OFS_DELTA, REF_DELTA = 1, 2, 3, 4, 6, 7
KIND_NAMES = {COMMIT: "commit", TREE: "tree", BLOB: "blob", TAG: "tag"}
READ_CHUNK = 64 * 1024


class PackRefused(Exception):
    """The pack is malformed or past a bound; the message is shown to the pusher."""


@dataclass(frozen=True)
class PackBounds:
    max_objects: int
    max_object_bytes: int  # one object, inflated (a delta's result included)
    max_inflated: int  # all objects together, inflated
    seconds: float


@dataclass(frozen=True)
class PackObject:
    kind: int
    raw: bytes


def _varint_header(handle) -> tuple[int, int]:
    """An object's type and declared size (git's little-endian base-128 with the type in the
    first byte); at most 10 bytes."""
    byte = handle.read(1)
    if not byte:
        raise PackRefused("the pack stops in the middle of an object header")
    value = byte[0]
    kind = (value >> 4) & 7
    size = value & 15
    shift = 4
    while value & 0x80:
        byte = handle.read(1)
        if not byte or shift > 60:
            raise PackRefused("malformed object header in the pack")
        value = byte[0]
        size |= (value & 0x7F) << shift
        shift += 7
    return kind, size


def _ofs_delta_offset(handle) -> int:
    byte = handle.read(1)
    if not byte:
        raise PackRefused("the pack stops in the middle of a delta header")
    value = byte[0]
    offset = value & 0x7F
    count = 0
    while value & 0x80:
        byte = handle.read(1)
        count += 1
        if not byte or count > 9:
            raise PackRefused("malformed delta offset in the pack")
        value = byte[0]
        offset = ((offset + 1) << 7) | (value & 0x7F)
    return offset


def _inflate(handle, declared: int) -> bytes:
    """The zlib stream at the handle's position, inflated to at most `declared` + 1 bytes; the
    handle is left just past the stream."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    total = 0
    while not inflater.eof:
        chunk = handle.read(READ_CHUNK)
        if not chunk:
            raise PackRefused("the pack stops in the middle of an object")
        try:
            data = inflater.decompress(chunk, declared + 1 - total)
        except zlib.error:
            raise PackRefused("an object of the pack is not valid zlib data") from None
        total += len(data)
        parts.append(data)
        if total > declared or (inflater.unconsumed_tail and not inflater.eof):
            raise PackRefused("an object of the pack inflates past the size it declares")
        if inflater.eof:
            handle.seek(-len(inflater.unused_data), 1)
    if total != declared:
        raise PackRefused("an object of the pack is shorter than the size it declares")
    return b"".join(parts)


def _delta_sizes(delta: bytes) -> tuple[int, int]:
    sizes = []
    offset = 0
    for _ in range(2):
        value = shift = 0
        while True:
            if offset >= len(delta) or shift > 63:
                raise PackRefused("malformed delta in the pack")
            byte = delta[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        sizes.append(value)
    return sizes[0], sizes[1]


def _checked_trailer(handle) -> int:
    """Check the SHA-1 trailer over the whole pack; returns the offset where the trailer starts."""
    end = handle.seek(0, 2)
    if end < 32:
        raise PackRefused("the pack is too short")
    handle.seek(0)
    digest = hashlib.sha1(usedforsecurity=False)
    remaining = end - 20
    while remaining:
        chunk = handle.read(min(READ_CHUNK, remaining))
        digest.update(chunk)
        remaining -= len(chunk)
    if handle.read(20) != digest.digest():
        raise PackRefused("the pack's checksum does not match its content")
    return end - 20


def read_pack(
    handle, bounds: PackBounds, base_lookup: Callable[[str], tuple[int, bytes] | None]
) -> dict[str, PackObject]:
    """Every object of the pack in `handle` (a seekable binary file), by id, resolved and checked."""
    deadline = time.monotonic() + bounds.seconds
    trailer_at = _checked_trailer(handle)
    handle.seek(0)
    header = handle.read(12)
    if header[:4] != b"PACK" or int.from_bytes(header[4:8], "big") not in (2, 3):
        raise PackRefused("not a git pack (version 2 or 3)")
    count = int.from_bytes(header[8:12], "big")
    if count > bounds.max_objects:
        raise PackRefused(f"the pack holds {count} objects; a push may hold at most {bounds.max_objects}")
    objects: dict[str, PackObject] = {}
    at_offset: dict[int, tuple[int, bytes]] = {}
    inflated = 0
    for _ in range(count):
        if time.monotonic() > deadline:
            raise PackRefused(f"reading the pack took longer than {bounds.seconds:.0f} s")
        offset = handle.tell()
        kind, declared = _varint_header(handle)
        base: tuple[int, bytes] | None = None
        if kind == OFS_DELTA:
            base = at_offset.get(offset - _ofs_delta_offset(handle))
            if base is None:
                raise PackRefused("a delta of the pack names a base that is not in it")
        elif kind == REF_DELTA:
            base_id = handle.read(20).hex()
            base = _base(base_id, objects, base_lookup)
        elif kind not in KIND_NAMES:
            raise PackRefused(f"unknown object type {kind} in the pack")
        if declared > bounds.max_object_bytes:
            raise PackRefused(f"an object of the pack is larger than {bounds.max_object_bytes} bytes")
        data = _inflate(handle, declared)
        if base is not None:
            _, result_size = _delta_sizes(data)
            if result_size > bounds.max_object_bytes:
                raise PackRefused(f"an object of the pack is larger than {bounds.max_object_bytes} bytes")
            try:
                data = b"".join(apply_delta(base[1], data))
            except Exception:  # dulwich raises ApplyDeltaError, and IndexError on a truncated delta
                raise PackRefused("a delta of the pack does not apply to its base") from None
            kind = base[0]
        inflated += len(data)
        if inflated > bounds.max_inflated:
            raise PackRefused(f"the pack inflates to more than {bounds.max_inflated} bytes")
        if handle.tell() > trailer_at:
            raise PackRefused("the pack's objects run into its checksum")
        oid = _verified_id(kind, data)
        objects[oid] = PackObject(kind, data)
        at_offset[offset] = (kind, data)
    if handle.tell() != trailer_at:
        raise PackRefused("the pack holds more data than its objects")
    return objects


def _base(oid: str, objects: dict[str, PackObject], base_lookup) -> tuple[int, bytes]:
    if oid in objects:
        return objects[oid].kind, objects[oid].raw
    found = base_lookup(oid)
    if found is None:
        # SECURITY: the same words whether the object is missing or held by another repo.
        raise PackRefused(f"a delta of the pack names base {oid}, which is neither in the pack nor in this repo")
    return found


def _verified_id(kind: int, data: bytes) -> str:
    try:
        parsed = ShaFile.from_raw_string(kind, data)
        parsed.check()
    except (ObjectFormatException, ValueError, KeyError) as exc:
        raise PackRefused(f"a {KIND_NAMES[kind]} of the pack is malformed: {exc}") from None
    return parsed.id.decode()
