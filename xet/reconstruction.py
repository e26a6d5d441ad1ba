"""Rebuilding Xet files: the reconstruction plan clients download from, and server-side reads.

A file is a list of terms (xorb, chunk range). Xorbs are immutable and content-addressed, so
their parsed chunk index is cached per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from core.errors import NotFound
from registry.storage import get_xet_storage
from xet import format
from xet.models import XetFile, Xorb

# Largest stored byte range read at once when rebuilding a file on the server.
READ_PIECE = 8 * 1024 * 1024


@dataclass(frozen=True)
class PlannedTerm:
    xorb: str
    chunk_start: int
    chunk_end: int  # exclusive
    size: int  # raw bytes of exactly these chunks


# An 8192-chunk index takes about 1.8 MB in memory: 64 of them bound a worker to ~120 MB.
@lru_cache(maxsize=64)
def xorb_chunks(xorb_hash: str) -> tuple[format.XorbChunk, ...]:
    index = Xorb.objects.filter(hash=xorb_hash).values_list("index", flat=True).first()
    if index is None:
        raise NotFound(f"Xorb {xorb_hash} is not stored.")
    return tuple(format.chunk_index_unpack(bytes(index)))


def plan(terms: list, start: int, end: int) -> tuple[int, list[PlannedTerm]]:
    """The terms covering bytes [start, end) and how many bytes of the first one to skip."""
    skip = 0
    planned: list[PlannedTerm] = []
    position = 0
    for xorb, chunk_start, chunk_end, size in terms:
        if position + size <= start or position >= end:
            position += size
            continue
        chunks = xorb_chunks(xorb)
        first = last = None
        first_offset = cursor = position
        covered = 0
        for index in range(chunk_start, chunk_end):
            length = chunks[index].size
            if cursor + length > start and cursor < end:
                if first is None:
                    first, first_offset = index, cursor
                last = index
                covered += length
            cursor += length
        if first is None or last is None:
            position += size
            continue
        if not planned:
            skip = start - first_offset
        planned.append(PlannedTerm(xorb, first, last + 1, covered))
        position += size
    return skip, planned


def fetch_ranges(planned: list[PlannedTerm]) -> dict[str, list[tuple[int, int, int, int]]]:
    """Per xorb, merged chunk ranges with their stored byte ranges: (cs, ce, first byte, last byte)."""
    wanted: dict[str, list[tuple[int, int]]] = {}
    for term in planned:
        wanted.setdefault(term.xorb, []).append((term.chunk_start, term.chunk_end))
    result: dict[str, list[tuple[int, int, int, int]]] = {}
    for xorb, ranges in wanted.items():
        merged: list[list[int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        chunks = xorb_chunks(xorb)
        result[xorb] = [(s, e, chunks[s].compressed_start, chunks[e - 1].compressed_end - 1) for s, e in merged]
    return result


def iter_terms(terms: list, start: int, end: int) -> Iterator[bytes]:
    """The raw bytes [start, end) of the file made of `terms`."""
    skip, planned = plan(terms, start, end)
    return _iter_planned(planned, skip, end - start)


def _iter_planned(planned: list[PlannedTerm], skip: int, remaining: int) -> Iterator[bytes]:
    storage = get_xet_storage()
    for term in planned:
        chunks = xorb_chunks(term.xorb)
        with storage.open(term.xorb) as handle:
            index = term.chunk_start
            while index < term.chunk_end and remaining > 0:
                stop = index + 1
                while (
                    stop < term.chunk_end and chunks[stop].compressed_end - chunks[index].compressed_start <= READ_PIECE
                ):
                    stop += 1
                handle.seek(chunks[index].compressed_start)
                data = handle.read(chunks[stop - 1].compressed_end - chunks[index].compressed_start)
                for raw in format.decode_chunks(data):
                    if skip:
                        raw, skip = raw[skip:], max(skip - len(raw), 0)
                    piece = raw[:remaining]
                    remaining -= len(piece)
                    if piece:
                        yield piece
                index = stop


def read_file_range(xet_hash: str, start: int, end: int) -> Iterator[bytes]:
    terms = XetFile.objects.filter(hash=xet_hash).values_list("terms", flat=True).first()
    if terms is None:
        raise FileNotFoundError(f"Xet file {xet_hash} is not registered")
    try:
        skip, planned = plan(terms, start, end)
    except NotFound as exc:
        raise FileNotFoundError(exc.message) from exc
    # Checked before the first byte: a response can still answer an error instead of stopping short.
    storage = get_xet_storage()
    missing = sorted({term.xorb for term in planned if not storage.exists(term.xorb)})
    if missing:
        raise FileNotFoundError(f"xorb {missing[0]} of Xet file {xet_hash} is not stored")
    return _iter_planned(planned, skip, end - start)
