"""Large request bodies read straight from the client's socket when gunicorn serves us.

gunicorn hands the application a file-like `wsgi.input` that receives with `recv()` into new
bytes objects and passes them through two `BytesIO` buffers and several slices: four or five
copies of every byte in Python. For a 1 GiB LFS upload on a 2-core machine that costs about as
much CPU as hashing it. `SocketBody.readinto` instead takes what gunicorn has already buffered,
then `recv_into()`s the rest of the body into the caller's buffer: one copy, by the kernel.

The body's framing stays gunicorn's: the reader's `length` is kept equal to what is still unread
on the socket, so after the response gunicorn discards exactly the rest (or nothing) and the
connection can be reused; any error marks the body failed, so gunicorn closes the connection
instead of looking for the next request in the middle of this one.

Only a `Content-Length` body that the application has not read from yet qualifies; anything else
(chunked bodies, other servers, the test server) keeps the ordinary `request.read()`. This reads
three attributes of gunicorn's `Body`/`LengthReader`/`Unreader` (version pinned in
requirements.txt); tests/test_socketbody.py runs it under a real gunicorn, keep-alive and
pipelined requests included.
"""

from __future__ import annotations

import io
import socket


class SocketBody(io.RawIOBase):
    """The unread body of one request: `held` (already received by gunicorn), then the socket.
    A raw stream: wrap it in `io.BufferedReader` where the caller reads many small pieces."""

    def __init__(self, body, sock: socket.socket, held: bytes, on_socket: int):
        super().__init__()
        self._body = body
        self._reader = body.reader
        self._sock = sock
        self._held = memoryview(held)
        self._reader.length = on_socket

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._held:
            count = min(len(view), len(self._held))
            view[:count] = self._held[:count]
            self._held = self._held[count:]
            return count
        remaining = self._reader.length
        if remaining <= 0 or not view:
            return 0
        try:
            count = self._sock.recv_into(view, min(len(view), remaining))
        except BaseException:
            self._body.failed = True
            raise
        if count == 0:
            self._body.failed = True  # the client went away mid-body
        self._reader.length = remaining - count
        return count

    def readable(self) -> bool:
        return True


def socket_body(request) -> SocketBody | None:
    """The request's body as a `SocketBody`, or None where it does not qualify (see module doc)."""
    environ = request.META
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
    held = body.buf.getvalue()
    if len(held) + reader.length != declared:
        return None  # the application has read part of the body already
    body.buf = io.BytesIO()
    pending = unreader.take_buffered()
    ours, beyond = pending[: reader.length], pending[reader.length :]
    if beyond:
        unreader.unread(beyond)  # a pipelined next request
    return SocketBody(body, sock, held + ours, reader.length - len(ours))


def buffered_body(request, buffer_size: int = 1024 * 1024):
    """A stream of the request's body for a parser that reads many small records (a xorb reads
    an 8-byte header, then a chunk, thousands of times): buffered over the socket where
    `socket_body` qualifies. gunicorn's own reader copies everything it holds on every read, up to
    1 MiB per 8-byte header."""
    raw = socket_body(request)
    return request if raw is None else io.BufferedReader(raw, buffer_size)
