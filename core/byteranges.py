"""HTTP byte ranges: the one Range parser, and a file view that serves exactly one range."""

from __future__ import annotations

import re

from django.http import FileResponse

from core.errors import RangeNotSatisfiable

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

# Past any file: a position with more digits than this is read as "beyond the end".
_MAX_POSITION_DIGITS = 18


def _position(digits: str) -> int:
    """SECURITY: a Range may carry thousands of digits; Python refuses to convert more than 4300
    (a 500 before), and no file has a byte past 10**18, so longer numbers mean "past the end"."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_POSITION_DIGITS else 10**_MAX_POSITION_DIGITS


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single satisfiable range; None to serve the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multi-range or malformed: RFC 9110 lets us ignore it and send everything
    first, last = match.group(1), match.group(2)
    if first:
        start = _position(first)
        end = min(_position(last), size - 1) if last else size - 1
        if start >= size or (last and _position(last) < start):
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    else:
        length = _position(last)
        if length == 0 or size == 0:  # RFC 9110 14.1.1: no suffix of an empty file is satisfiable
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        start, end = max(size - length, 0), size - 1
    return start, end


class BoundedFile:
    """A file positioned at `start` that yields exactly `length` bytes. It keeps `fileno()`, so
    gunicorn still uses sendfile (it sends Content-Length bytes from the current offset)."""

    def __init__(self, handle, start: int, length: int):
        handle.seek(start)
        self._handle = handle
        self._remaining = length

    def fileno(self) -> int:
        return self._handle.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def file_response(handle, byte_range: tuple[int, int] | None, size: int) -> FileResponse:
    """`handle` (an open file of `size` bytes) as a 200, or as a 206 of `byte_range` (inclusive,
    from `parse_range`), sent by Django's FileResponse (sendfile where the server offers it)."""
    if byte_range is None:
        response = FileResponse(handle, content_type="application/octet-stream")
        response["Content-Length"] = str(size)
        return response
    start, end = byte_range
    response = FileResponse(BoundedFile(handle, start, end - start + 1), content_type="application/octet-stream")
    response.status_code = 206
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
