"""Stream helpers with no Django in them (the scanner's child process imports them too)."""

from __future__ import annotations

import io
from typing import Any


class Replayed:
    """Bytes already taken from a stream (`head`), then the rest of that stream: for a reader that
    had to look at the start before handing the stream on (a request's CSRF token, an archive's magic)."""

    def __init__(self, head: bytes, rest: Any):
        self._head = io.BytesIO(head)
        self._rest = rest

    def read(self, size: int | None = -1) -> bytes:
        data = self._head.read(size)
        if size is None or size < 0:
            return data + self._rest.read()
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self._head.readline(size)
        if line.endswith(b"\n") or (size is not None and 0 <= size <= len(line)):
            return line
        return line + self._rest.readline(-1 if size is None or size < 0 else size - len(line))

    def close(self) -> None:
        self._head.close()
        if hasattr(self._rest, "close"):
            self._rest.close()
