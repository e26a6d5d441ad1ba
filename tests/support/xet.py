"""Building Xet xorbs and shards in tests, the way hf_xet does (uncompressed or LZ4 chunks)."""

from __future__ import annotations

import hashlib
import struct

import lz4.frame

from xet import format


def xorb(chunks: list[bytes], *, compress: bool = False) -> tuple[str, bytes]:
    """(xorb hash string, body) for chunks of raw data."""
    body = b""
    for raw in chunks:
        data = lz4.frame.compress(raw) if compress else raw
        scheme = format.SCHEME_LZ4 if compress else format.SCHEME_NONE
        body += struct.pack("<B3sB3s", 0, len(data).to_bytes(3, "little"), scheme, len(raw).to_bytes(3, "little"))
        body += data
    root = format.merkle_root([(format.chunk_hash(raw), len(raw)) for raw in chunks])
    return format.hash_to_string(root), body


def file_of(xorb_chunks: dict[str, list[bytes]], terms: list[tuple[str, int, int]]) -> tuple[str, bytes, list]:
    """(file hash string, content, shard terms) for terms (xorb hash, chunk start, chunk end)."""
    content = b""
    nodes = []
    shard_terms = []
    for xorb_hash, start, end in terms:
        used = xorb_chunks[xorb_hash][start:end]
        content += b"".join(used)
        nodes += [(format.chunk_hash(raw), len(raw)) for raw in used]
        verification = format.verification_hash([format.chunk_hash(raw) for raw in used])
        shard_terms.append((xorb_hash, start, end, sum(len(raw) for raw in used), verification))
    return format.hash_to_string(format.file_hash(nodes)), content, shard_terms


def shard(files: list[tuple[str, list, str]]) -> bytes:
    """A shard registering files (file hash string, shard terms from `file_of`, sha256 hex)."""
    body = format.SHARD_TAG + struct.pack("<QQ", 2, 0)
    for file_hash, terms, sha256 in files:
        flags = format.FLAG_VERIFICATION | format.FLAG_METADATA_EXT
        body += struct.pack("<32sII8x", format.string_to_hash(file_hash), flags, len(terms))
        for xorb_hash, start, end, size, _verification in terms:
            body += struct.pack("<32sIIII", format.string_to_hash(xorb_hash), 0, size, start, end)
        for *_rest, verification in terms:
            body += verification + bytes(16)
        body += format.string_to_hash(sha256) + bytes(16)
    return body + format.BOOKEND + format.BOOKEND


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
