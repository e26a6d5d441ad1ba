"""The Xet wire formats and hashes, as pure functions (no Django).

Everything here follows /shared/reference/xet-server.md §2, which was checked byte for byte
against hf_xet 1.8.0. Hashes are 32 raw bytes internally; URLs, JSON and headers use the
"hash string" form (each 8-byte word reversed, then hex).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import blake3
import lz4.frame

DATA_KEY = bytes.fromhex("6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229")
INTERNAL_NODE_KEY = bytes.fromhex("017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f")
VERIFICATION_KEY = bytes.fromhex("7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3")
FILE_KEY = bytes(32)
ZERO_HASH = bytes(32)

MAX_CHUNK_UNCOMPRESSED = 128 * 1024
MAX_CHUNK_COMPRESSED = 256 * 1024
MAX_XORB_CHUNKS = 8192
# 64 MiB of chunk data plus slack for headers and an optional footer.
MAX_XORB_BYTES = 64 * 1024 * 1024 + 256 * 1024
MAX_SHARD_BYTES = 64 * 1024 * 1024

SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2
CHUNK_HEADER = struct.Struct("<B3sB3s")
FOOTER_MAGIC = b"XETBLOB"

SHARD_TAG = b"HFRepoMetaData\x00\x55\x69\x67\x45\x6a\x7b\x81\x57\x83\xa5\xbd\xd9\x5c\xcd\xd1\x4a\xa9"
BOOKEND = b"\xff" * 32 + b"\x00" * 16
FLAG_VERIFICATION = 0x80000000
FLAG_METADATA_EXT = 0x40000000
_RECORD = 48
_FILE_HEADER = struct.Struct("<32sII8x")
_FILE_ENTRY = struct.Struct("<32sIIII")
_CAS_HEADER = struct.Struct("<32sIIII")
_CAS_ENTRY = struct.Struct("<32sII8x")


class FormatError(ValueError):
    """The bytes are not a well-formed xorb or shard, or a hash does not match."""


# -- hashes ---------------------------------------------------------------------------------------


def hash_to_string(raw: bytes) -> str:
    return "".join(raw[i : i + 8][::-1].hex() for i in (0, 8, 16, 24))


def string_to_hash(text: str) -> bytes:
    if len(text) != 64 or text.lower() != text:
        raise FormatError("A hash is 64 lowercase hex characters.")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise FormatError("A hash is 64 lowercase hex characters.") from exc
    return b"".join(raw[i : i + 8][::-1] for i in (0, 8, 16, 24))


def is_hash_string(text: str) -> bool:
    try:
        string_to_hash(text)
    except FormatError:
        return False
    return True


def _low_word(raw: bytes) -> int:
    return int.from_bytes(raw[24:32], "little")


def chunk_hash(data: bytes) -> bytes:
    return blake3.blake3(data, key=DATA_KEY).digest()


def merkle_root(nodes: list[tuple[bytes, int]]) -> bytes:
    """The variable-fanout Merkle root over (hash, size) pairs (xet-core's aggregated hashes)."""
    if not nodes:
        return ZERO_HASH
    level = list(nodes)
    while len(level) > 1:
        merged = []
        start = 0
        while start < len(level):
            merged.append(_merge(level[start : start + _group_size(level, start)]))
            start += _group_size(level, start)
        level = merged
    return level[0][0]


def _group_size(level: list[tuple[bytes, int]], start: int) -> int:
    remaining = len(level) - start
    if remaining <= 2:
        return remaining
    limit = min(9, remaining)
    for index in range(2, limit):
        if _low_word(level[start + index][0]) % 4 == 0:
            return index + 1
    return limit


def _merge(group: list[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_to_string(h)} : {size}\n" for h, size in group)
    return blake3.blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in group)


def file_hash(chunks: list[tuple[bytes, int]]) -> bytes:
    return blake3.blake3(merkle_root(chunks), key=FILE_KEY).digest()


def verification_hash(chunk_hashes: list[bytes]) -> bytes:
    return blake3.blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


# -- xorbs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XorbChunk:
    hash: bytes
    compressed_start: int  # offset of the chunk header in the xorb
    compressed_end: int  # end of the compressed data (exclusive)
    size: int  # uncompressed length


def decompress(scheme: int, data: bytes, size: int) -> bytes:
    if scheme == SCHEME_NONE:
        raw = data
    elif scheme == SCHEME_LZ4:
        raw = _lz4(data, size)
    elif scheme == SCHEME_BG4_LZ4:
        raw = _bg4_ungroup(_lz4(data, size))
    else:
        raise FormatError(f"Unknown chunk compression scheme {scheme}.")
    if len(raw) != size:
        raise FormatError("A chunk does not decompress to its declared length.")
    return raw


def _lz4(data: bytes, size: int) -> bytes:
    """SECURITY: never inflate past the chunk's declared size, whatever the frame header claims."""
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        raw = decompressor.decompress(data, max_length=size + 1)
    except (RuntimeError, MemoryError, ValueError) as exc:
        raise FormatError("A chunk is not valid LZ4 frame data.") from exc
    if not decompressor.eof:
        raise FormatError("A chunk does not decompress to its declared length.")
    return raw


def _bg4_ungroup(grouped: bytes) -> bytes:
    n = len(grouped)
    out = bytearray(n)
    position = 0
    for lane in range(4):
        count = n // 4 + (lane < n % 4)
        out[lane::4] = grouped[position : position + count]
        position += count
    return bytes(out)


def _u24(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def iter_xorb(stream: BinaryIO, *, limit: int = MAX_XORB_BYTES) -> Iterator[tuple[XorbChunk, bytes, bytes]]:
    """Parse and verify a xorb body as it is read: (chunk, header + compressed bytes, raw data).

    Stops at the end of the stream or at a footer, which must then be the last thing in the
    body. Raises FormatError on anything malformed; the caller recomputes the xorb hash."""
    offset = 0
    count = 0
    while True:
        header = _read_exact(stream, CHUNK_HEADER.size, allow_eof=True)
        if not header:
            return
        if header.startswith(FOOTER_MAGIC):
            _skip_footer(stream, header, offset, limit)
            return
        version, compressed_raw, scheme, size_raw = CHUNK_HEADER.unpack(header)
        compressed_len, size = _u24(compressed_raw), _u24(size_raw)
        if version != 0:
            raise FormatError(f"Chunk {count} has an unknown header version {version}.")
        if not 0 < size <= MAX_CHUNK_UNCOMPRESSED or not 0 < compressed_len <= MAX_CHUNK_COMPRESSED:
            raise FormatError(f"Chunk {count} has lengths outside the protocol limits.")
        count += 1
        end = offset + CHUNK_HEADER.size + compressed_len
        if count > MAX_XORB_CHUNKS or end > limit:
            raise FormatError("The xorb is larger than the protocol allows.")
        data = _read_exact(stream, compressed_len)
        raw = decompress(scheme, data, size)
        yield XorbChunk(chunk_hash(raw), offset, end, size), header + data, raw
        offset = end


def _read_exact(stream: BinaryIO, size: int, *, allow_eof: bool = False) -> bytes:
    parts = []
    remaining = size
    while remaining:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    data = b"".join(parts)
    if len(data) == size or (allow_eof and not data):
        return data
    raise FormatError("The body ends in the middle of a record.")


def _skip_footer(stream: BinaryIO, header: bytes, offset: int, limit: int) -> None:
    """A footer (xet-core's XorbObjectInfo, which older clients append) ends the body. It must
    name version 1 and fit the limits; it is then dropped, as the server keeps its own index."""
    if header[len(FOOTER_MAGIC)] != 1:
        raise FormatError("The xorb ends with a footer of an unknown version.")
    size = len(header)
    while piece := stream.read(64 * 1024):
        size += len(piece)
        if offset + size > limit:
            raise FormatError("The xorb is larger than the protocol allows.")
    if size < len(FOOTER_MAGIC) + 1 + 32 + 4:
        raise FormatError("The xorb ends with a truncated footer.")


def chunk_index_pack(chunks: list[XorbChunk]) -> bytes:
    """The server's own per-xorb index: per chunk, u32 start, u32 end, u32 size, 32-byte hash."""
    return b"".join(struct.pack("<III", c.compressed_start, c.compressed_end, c.size) + c.hash for c in chunks)


_INDEX_ENTRY = struct.Struct("<III32s")


def chunk_index_unpack(blob: bytes) -> list[XorbChunk]:
    return [XorbChunk(h, start, end, size) for start, end, size, h in _INDEX_ENTRY.iter_unpack(blob)]


def decode_chunks(data: bytes) -> Iterator[bytes]:
    """Raw content of a run of stored chunks (headers included), in order."""
    offset = 0
    while offset < len(data):
        _version, compressed_raw, scheme, size_raw = CHUNK_HEADER.unpack_from(data, offset)
        start = offset + CHUNK_HEADER.size
        end = start + _u24(compressed_raw)
        yield decompress(scheme, data[start:end], _u24(size_raw))
        offset = end


# -- shards ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    xorb: bytes
    size: int
    chunk_start: int
    chunk_end: int  # exclusive


@dataclass(frozen=True)
class ShardFile:
    hash: bytes
    terms: list[Term]
    verification: list[bytes] | None
    sha256: str | None  # lowercase hex, as in the commit's lfsFile oid


@dataclass(frozen=True)
class ShardXorb:
    hash: bytes
    chunks: list[tuple[bytes, int, int]]  # (chunk hash, uncompressed start, size)


@dataclass(frozen=True)
class Shard:
    files: list[ShardFile]
    xorbs: list[ShardXorb]


def parse_shard(data: bytes) -> Shard:
    if len(data) > MAX_SHARD_BYTES:
        raise FormatError("The shard is larger than the protocol allows.")
    if len(data) < _RECORD or data[:32] != SHARD_TAG:
        raise FormatError("Not a Xet shard: the header tag is wrong.")
    version, footer_size = struct.unpack_from("<QQ", data, 32)
    if version != 2:
        raise FormatError(f"Unsupported shard version {version}.")
    reader = _Records(data, _RECORD)
    files = []
    while not reader.at_bookend():
        files.append(_read_file(reader))
    reader.skip_bookend()
    xorbs = []
    while not reader.at_bookend():
        xorbs.append(_read_cas(reader))
    reader.skip_bookend()
    if len(data) - reader.offset != footer_size:
        raise FormatError("The shard has unexpected bytes after its last section.")
    return Shard(files, xorbs)


class _Records:
    def __init__(self, data: bytes, offset: int):
        self.data = data
        self.offset = offset

    def next(self) -> bytes:
        if self.offset + _RECORD > len(self.data):
            raise FormatError("The shard ends in the middle of a section.")
        record = self.data[self.offset : self.offset + _RECORD]
        self.offset += _RECORD
        return record

    def at_bookend(self) -> bool:
        return self.data[self.offset : self.offset + _RECORD] == BOOKEND

    def skip_bookend(self) -> None:
        if not self.at_bookend():
            raise FormatError("The shard is missing a section end marker.")
        self.offset += _RECORD


def _read_file(reader: _Records) -> ShardFile:
    file_id, flags, count = _FILE_HEADER.unpack(reader.next())
    if count > 1_000_000:
        raise FormatError("A shard file entry has too many terms.")
    terms = []
    for _ in range(count):
        xorb, _cas_flags, size, start, end = _FILE_ENTRY.unpack(reader.next()[:48])
        terms.append(Term(xorb, size, start, end))
    verification = [reader.next()[:32] for _ in range(count)] if flags & FLAG_VERIFICATION else None
    sha256 = None
    if flags & FLAG_METADATA_EXT:
        sha256 = hash_to_string(reader.next()[:32])
    return ShardFile(file_id, terms, verification, sha256)


def _read_cas(reader: _Records) -> ShardXorb:
    xorb, _flags, count, _bytes_in_cas, _bytes_on_disk = _CAS_HEADER.unpack(reader.next())
    if count > MAX_XORB_CHUNKS:
        raise FormatError("A shard xorb entry has too many chunks.")
    chunks = []
    for _ in range(count):
        chunk, start, size = _CAS_ENTRY.unpack(reader.next())
        chunks.append((chunk, start, size))
    return ShardXorb(xorb, chunks)
