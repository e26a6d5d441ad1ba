"""Large request bodies read straight from the client's socket when gunicorn serves us.

gunicorn hands the application a file-like `wsgi.input` that receives with `recv()` into new
bytes objects and passes them through two `BytesIO` buffers and several slices: four or five
copies of every byte in Python, and for small reads a copy of everything it holds (up to 1 MiB)
on each read. For a 1 GiB LFS upload on a 2-core machine that cost about as much CPU as hashing
it; for a xorb, read as thousands of 8-byte headers and chunks, several times more.
`SocketBody.readinto` instead takes what gunicorn has already buffered, then `recv_into()`s the
rest of the body into the caller's buffer: one copy, by the kernel.

The body's framing stays gunicorn's: the reader's `length` is kept equal to what is still unread
on the socket, so after the response gunicorn discards exactly the rest (or closes the connection
when too much is left) and the connection can be reused; an error or a client gone mid-body
marks the body failed, so gunicorn closes the connection instead of looking for the next request
in the middle of this one. gunicorn sends `100 Continue` before the application runs, so that is
unaffected.

Only a `Content-Length` body that the application has not read from yet qualifies; anything else
(chunked bodies, HTTP/2, other servers, the test server) keeps the ordinary `request.read()`. Once
taken over, the body belongs to the `SocketBody`: `socket_body()` returns the same one on later
calls, and `request.read()` must not be used for that request any more. This reads a few
attributes of gunicorn's `Body`/`LengthReader`/`Unreader` (gunicorn is pinned in requirements.txt);
tests/core/test_socketbody.py checks their shape and runs all of this under a real gunicorn,
keep-alive, pipelined and cut-off requests included.
"""

from __future__ import annotations

import io
import socket
import time
from typing import Any

from django.conf import settings

from core.errors import RequestTimeout

_TAKEN = "gatehouse.socket_body"
# A client that sends nothing for GATEHOUSE_BODY_IDLE_TIMEOUT seconds (120) fails its upload (as S3
# answers RequestTimeout), so a stalled upload does not hold a server thread, its buffers and a
# temp file forever. gunicorn puts the socket back in blocking mode before it serves the next
# request on the connection.


class SocketBody(io.RawIOBase):
    """The unread body of one request: `held` (already received by gunicorn), then the socket.
    A raw stream: wrap it in `io.BufferedReader` where the caller reads many small pieces."""

    def __init__(self, body: Any, sock: socket.socket, held: bytes, on_socket: int, idle_timeout: float):
        super().__init__()
        self._body = body
        self._reader = body.reader
        self._sock = sock
        self._held = memoryview(held)
        self._reader.length = on_socket
        self._idle_timeout = idle_timeout
        # core.gunicorn_worker's reader knows the body's minimum rate (GATEHOUSE_BODY_MIN_RATE).
        self._rates = self._reader.unreader if hasattr(self._reader.unreader, "rate_deadline") else None
        sock.settimeout(idle_timeout)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._held:
            count = min(len(view), len(self._held))
            view[:count] = self._held[:count]
            self._held = self._held[count:]
            return count
        remaining = self._reader.length
        if remaining <= 0 or not view:
            return 0
        wait = self._idle_timeout
        message = f"No data arrived for {wait:g} seconds in the middle of the body."
        rates = self._rates
        deadline = rates.rate_deadline() if rates is not None else None
        if rates is not None and deadline is not None and deadline - time.monotonic() < wait:
            wait = max(deadline - time.monotonic(), 0.001)
            message = f"The request body arrives more slowly than {rates.min_rate:g} bytes a second."
        self._sock.settimeout(wait)
        try:
            # SECURITY: never more than what is left of this body; the rest of the connection
            # (a pipelined request) is gunicorn's.
            count = self._sock.recv_into(view, min(len(view), remaining))
        except TimeoutError as exc:
            self._body.failed = True
            raise RequestTimeout(message) from exc
        except BaseException:
            self._body.failed = True
            raise
        if count == 0:
            self._body.failed = True  # the client went away mid-body
        self._reader.length = remaining - count
        if self._rates is not None:
            self._rates.body_received += count
        return count

    def readable(self) -> bool:
        return True


def socket_body(request: Any, *, idle_timeout: float | None = None) -> SocketBody | None:
    """The request's body as a `SocketBody`, or None where it does not qualify (see module doc)."""
    environ = request.META
    if _TAKEN in environ:
        return environ[_TAKEN]
    sock = environ.get("gunicorn.socket")
    body = environ.get("wsgi.input")
    reader = getattr(body, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if sock is None or type(reader).__name__ != "LengthReader" or not hasattr(unreader, "take_buffered"):
        return None
    try:
        declared = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    assert body is not None and reader is not None and unreader is not None
    held = body.buf.getvalue()
    if len(held) + reader.length != declared:
        return None  # the application has read part of the body already
    body.buf = io.BytesIO()
    pending = unreader.take_buffered()
    ours, beyond = pending[: reader.length], pending[reader.length :]
    if beyond:
        unreader.unread(beyond)  # a pipelined next request
    if idle_timeout is None:
        idle_timeout = settings.GATEHOUSE_BODY_IDLE_TIMEOUT
    taken = environ[_TAKEN] = SocketBody(body, sock, held + ours, reader.length - len(ours), idle_timeout)
    return taken


def buffered_body(request: Any, buffer_size: int = 1024 * 1024) -> Any:
    """A stream of the request's body for a parser that reads many small records (a xorb reads
    an 8-byte header, then a chunk, thousands of times): buffered over the socket where
    `socket_body` qualifies, the request itself otherwise. Once per request: the reader closes
    the `SocketBody` under it when it is collected."""
    raw = socket_body(request)
    return request if raw is None else io.BufferedReader(raw, buffer_size)
