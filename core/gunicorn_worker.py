"""gunicorn's gthread worker, with request heads and small bodies read in its event loop.

Why: gthread hands a connection to a pool thread as soon as its first byte arrives, and the thread
then reads the head (and later the body) with blocking, unbounded receives. With 8 threads a
worker, a few dozen clients sending one header line every few seconds, or trickling small bodies,
held every thread and `/healthz` stopped answering. A thread is now given a request only once it
can run without waiting on the client:

- the head is read here, in the worker's selector loop, without blocking; it must be complete
  within `GATEHOUSE_HEAD_TIMEOUT` seconds of the connection opening (or of a kept-alive
  connection's next byte), else the client gets a 408 and the connection is closed (just closed
  where it sent nothing);
- a body of up to `BODY_IN_LOOP_MAX_BYTES` is read here too, a client that sends nothing for
  `GATEHOUSE_BODY_IDLE_TIMEOUT` seconds getting a 408 the same way;
- larger bodies (uploads), chunked ones and `Expect: 100-continue` go to a thread with the head
  alone, so the upload fast path (`core.socketbody`, reading the socket itself) is unchanged; each
  receive there waits at most `GATEHOUSE_BODY_IDLE_TIMEOUT` (`RequestTimeout`, 408). Such requests
  hold at most 3/4 of the threads (6 of 8): the others stay free for everything else however
  slowly uploads trickle in; more wait here (a 503 after `GATEHOUSE_BODY_IDLE_TIMEOUT`).

Responses are written by the threads as before (sendfile for files), each send waiting at most
`GATEHOUSE_SEND_IDLE_TIMEOUT` seconds for the client to take more bytes (then the connection is
dropped): a client that stops reading a download frees its thread after that long (found by an
outsider attack: a hundred such sockets hung every route). One that reads very slowly, but reads,
still holds its thread while it does.
What waits here costs a socket and at most 64 KiB + 64 KiB of buffer, not a thread: gunicorn
stops accepting at `worker_connections` (1000) per worker. TLS and HTTP/2 prior-knowledge
connections, which gunicorn must handshake in a thread, keep gthread's behaviour (Gatehouse is
deployed on plain HTTP, behind a TLS-terminating proxy where it has one).

The parser, body readers and keep-alive handling stay gunicorn's: this hands the bytes read here
to the connection's parser (`Unreader.unread`), which then never needs the socket for the head.
tests/security/test_slow_clients.py runs it under a real gunicorn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from functools import partial
from typing import Any

import gunicorn
import gunicorn.util
from django.conf import settings  # lazy: read only once the served app has configured it
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http2 import negotiation
from gunicorn.workers import gthread

from core import lifecycle, malloc
from core.errors import RequestTimeout, ResponseCutShort
from core.http import client_address

# The loop below relies on gthread internals (TConn, data_ready, nr_conns, enqueue_req,
# finish_request, murder_pending, Unreader.take_buffered) as of gunicorn 27: refuse to start on
# another major version rather than misbehave under load.
if gunicorn.version_info[0] != 27:
    raise ImportError(f"core.gunicorn_worker supports gunicorn 27, not {gunicorn.__version__}")

HEAD_TIMEOUT_SECONDS = 20.0
BODY_IDLE_TIMEOUT_SECONDS = 120.0
# A body a thread reads must average this many bytes a second once the head timeout has passed
# (Apache's mod_reqtimeout rule): trickling a byte just inside the idle timeout holds no thread.
BODY_MIN_RATE = 1024.0
# A response's send that the client does not drain for this long drops the connection.
SEND_IDLE_TIMEOUT_SECONDS = 60.0
# A head longer than this is refused (431); clients of the Hub API send a few hundred bytes.
HEAD_MAX_BYTES = 64 * 1024
# Bodies up to this size (forms, JSON, small commits) are read before a thread is given the request.
BODY_IN_LOOP_MAX_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
# A connection closed after its answer waits this long (and reads at most this much) for the
# client's FIN, so that unread request bytes do not turn the close into a reset (RFC 9112 9.6).
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024
# Every this many seconds the loop hands malloc's free pages back to the system (core.malloc.trim:
# a few milliseconds): what one burst of large requests freed does not stay in the worker's RSS.
MALLOC_TRIM_SECONDS = 10.0


def _timeouts() -> tuple[float, float, float]:
    """(head, body idle, body minimum rate) from the Django settings where the served app
    configured them."""
    if not settings.configured:
        return HEAD_TIMEOUT_SECONDS, BODY_IDLE_TIMEOUT_SECONDS, BODY_MIN_RATE
    return (
        float(getattr(settings, "GATEHOUSE_HEAD_TIMEOUT", HEAD_TIMEOUT_SECONDS)),
        float(getattr(settings, "GATEHOUSE_BODY_IDLE_TIMEOUT", BODY_IDLE_TIMEOUT_SECONDS)),
        float(getattr(settings, "GATEHOUSE_BODY_MIN_RATE", BODY_MIN_RATE)),
    )


def bounded_sends(app: Callable, seconds: float) -> Callable:
    """The WSGI app, with the connection's socket given a timeout of `seconds` once the app has
    returned, so that every send of the response (gunicorn's `sendall` and `socket.sendfile`) waits
    at most that long for the client to drain it. Not before: the request body is read by then, and
    its reads keep their own bounds (`IdleTimeoutUnreader.chunk` tells them apart by this timeout)."""

    def app_with_bounded_sends(environ: dict, start_response: Callable) -> Any:
        result = app(environ, start_response)
        sock = environ.get("gunicorn.socket")
        if isinstance(sock, socket.socket) and sock.gettimeout() is None:
            sock.settimeout(seconds)
        return result

    return app_with_bounded_sends


def _error_response(status: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response in the Hub's error shape, after which the connection closes."""
    body = json.dumps({"error": message, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Error-Code: {code}\r\nX-Error-Message: {message}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


HEAD_TIMED_OUT = _error_response("408 Request Timeout", "RequestTimeout", "The request head did not arrive in time.")
BODY_TIMED_OUT = _error_response("408 Request Timeout", "RequestTimeout", "The request body stopped arriving.")
BUSY = _error_response(
    "503 Service Unavailable", "ServiceUnavailable", "Too many uploads in progress; try again later."
)
HEAD_TOO_LARGE = _error_response(
    "431 Request Header Fields Too Large", "RequestHeaderFieldsTooLarge", "The request head is too large."
)


def body_length_to_read_first(head: bytes) -> int | None:
    """How many body bytes follow this head, where the loop should read them before a thread runs
    the request; None where a thread should get the head alone (a large, chunked or 100-continue
    body, or framing the parser will refuse). Only a scheduling decision: gunicorn's parser still
    frames and validates the request."""
    lowered = head.lower()
    if b"content-length" not in lowered and b"transfer-encoding" not in lowered and b"expect" not in lowered:
        return 0  # most requests: no body, and no need to look at each line
    lengths = []
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return None
        if name == b"content-length":
            lengths.append(value.strip())
    if not lengths:
        return 0
    if len(lengths) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 12:
        return None
    length = int(lengths[0])
    return length if length <= BODY_IN_LOOP_MAX_BYTES else None


class IdleTimeoutUnreader(SocketUnreader):
    """gunicorn's socket reader, each receive bounded by an idle timeout (a thread reading a body)."""

    idle_timeout = BODY_IDLE_TIMEOUT_SECONDS
    min_rate = BODY_MIN_RATE
    grace = HEAD_TIMEOUT_SECONDS
    body_started: float | None = None  # set while a thread reads a body (`start_body`)
    body_received = 0

    def start_body(self, already: int = 0) -> None:
        """A thread starts reading the body; `already` bytes of it came with the head."""
        self.body_started, self.body_received = time.monotonic(), already

    def end_body(self) -> None:
        self.body_started = None

    def rate_deadline(self) -> float | None:
        """When the body falls below the minimum rate if nothing more arrives."""
        if self.body_started is None or self.min_rate <= 0:
            return None
        return self.body_started + self.grace + self.body_received / self.min_rate

    def chunk(self, size_hint: int | None = None) -> bytes:
        prior = self.sock.gettimeout()
        if prior is not None:  # gunicorn's own bounded drain (Parser.finish_body): its timeout stands
            self.sock.settimeout(min(prior, self.idle_timeout))
            try:
                return super().chunk(size_hint)
            finally:
                self.sock.settimeout(prior)
        wait, message = (
            self.idle_timeout,
            f"No data arrived for {self.idle_timeout:g} seconds in the middle of the body.",
        )
        deadline = self.rate_deadline()
        if deadline is not None and deadline - time.monotonic() < wait:
            wait = max(deadline - time.monotonic(), 0.001)
            message = f"The request body arrives more slowly than {self.min_rate:g} bytes a second."
        self.sock.settimeout(wait)
        try:
            data = super().chunk(size_hint)
        except TimeoutError as exc:
            raise RequestTimeout(message) from exc
        finally:
            self.sock.settimeout(prior)
        self.body_received += len(data)
        return data


class _Reading:
    """A connection whose request is being read in the loop."""

    __slots__ = ("buffer", "deadline", "request_end", "scanned", "newlines", "crlfs", "is_registered")

    def __init__(self, buffer: bytearray, deadline: float):
        self.buffer = buffer
        self.deadline = deadline
        self.request_end: int | None = None  # known once the head is complete
        # Each byte of a head is scanned once, however small the pieces it arrives in.
        self.scanned = self.newlines = self.crlfs = 0
        self.is_registered = False  # with the worker's selector


def _cut_short_one_line(record: logging.LogRecord) -> bool:
    """gunicorn logs a body that raised after its headers went as an ERROR with a traceback; one
    that ended short on purpose (ResponseCutShort) is one WARNING line."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, ResponseCutShort):
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg, record.args = "Response cut short: %s", (exc,)
        record.exc_info, record.exc_text = None, None
    return True


class Worker(gthread.ThreadWorker):
    """`worker_class = "core.gunicorn_worker.Worker"` (config/gunicorn.conf.py)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.log.error_log.addFilter(_cut_short_one_line)
        self.head_timeout, self.body_idle_timeout = HEAD_TIMEOUT_SECONDS, BODY_IDLE_TIMEOUT_SECONDS
        self.body_min_rate = BODY_MIN_RATE
        self.reading: dict[gthread.TConn, _Reading] = {}
        # SECURITY: requests whose body a thread reads (uploads) may hold all threads but a reserve,
        # so trickled uploads cannot starve the rest; past that they wait here, holding no thread.
        self.streaming_slots = max(1, self.cfg.threads - max(1, self.cfg.threads // 4))
        # ...and one client (an address, see core.http.client_ip) at most all of those but a third,
        # so that connections from one place cannot take every upload slot (4 of 6).
        self.streams_per_client = max(1, self.streaming_slots - self.streaming_slots // 3)
        self.streaming: dict[gthread.TConn, str] = {}  # -> its client
        self.streams_of: Counter[str] = Counter()
        # (connection, when it gets a 503, its client, body bytes that came with the head)
        self.waiting_for_slot: deque[tuple[gthread.TConn, float, str, int]] = deque()
        # A client may have this many waiting, no more (503 at once): a waiting connection is not
        # watched for the client going away, so it must not pile up from one place.
        self.waits_per_client = 2 * self.streams_per_client
        self.waits_of: Counter[str] = Counter()
        self.proxy_hops = 0
        self.lingering: dict[socket.socket, tuple[float, int]] = {}  # closing: (deadline, bytes drained)
        self.trimmed_at = time.monotonic()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.head_timeout, self.body_idle_timeout, self.body_min_rate = _timeouts()
        send_idle = float(getattr(settings, "GATEHOUSE_SEND_IDLE_TIMEOUT", SEND_IDLE_TIMEOUT_SECONDS))
        if settings.configured:
            self.wsgi = bounded_sends(getattr(self, "wsgi"), send_idle)  # noqa: B009 - untyped in gunicorn
        self.proxy_hops = int(getattr(settings, "GATEHOUSE_TRUSTED_PROXY_HOPS", 0)) if settings.configured else 0

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop gracefully, and wake whatever must be written before the process goes."""
        super().handle_exit(sig, frame)
        lifecycle.stopping()

    def _reads_in_loop(self, conn: gthread.TConn) -> bool:
        if conn.is_http2 or self.cfg.is_ssl or self.cfg.proxy_protocol != "off":
            return False
        return conn.parser is not None or not negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def enqueue_req(self, conn: gthread.TConn) -> None:
        """Every way a connection reaches a thread (accepted, kept alive and readable, pipelined)
        comes through here, on the loop's thread: read its request first."""
        if not self._reads_in_loop(conn):
            super().enqueue_req(conn)
            return
        if "close" not in vars(conn):  # plain HTTP: its socket is never replaced (no TLS wrap)
            conn.close = partial(self._close_socket, conn.sock)  # the socket, not conn: no cycle
        if conn.parser is None:
            conn.init()  # plain HTTP/1: only makes the parser
            parser: Any = conn.parser
            parser.unreader = IdleTimeoutUnreader(conn.sock)
            parser.unreader.idle_timeout = self.body_idle_timeout
            parser.unreader.min_rate, parser.unreader.grace = self.body_min_rate, self.head_timeout
        if conn.sock.gettimeout() != 0.0:
            conn.sock.setblocking(False)
        state = _Reading(bytearray(conn.parser.unreader.take_buffered()), time.monotonic() + self.head_timeout)
        self.reading[conn] = state
        if state.buffer:
            self._advance(conn, state)  # pipelined: often a whole request already
        if conn in self.reading:
            self._receive(conn, state)  # a kept-alive connection comes here once readable
        if conn in self.reading:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
            state.is_registered = True

    def _on_readable(self, conn: gthread.TConn, _sock: Any) -> None:
        self._receive(conn, self.reading[conn])

    def _receive(self, conn: gthread.TConn, state: _Reading) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)  # the client went away
            return
        state.buffer += data
        if state.request_end is not None:
            state.deadline = time.monotonic() + self.body_idle_timeout
        self._advance(conn, state)

    def _advance(self, conn: gthread.TConn, state: _Reading) -> None:
        buffer = state.buffer
        if state.request_end is None:
            end = buffer.find(b"\r\n\r\n", max(state.scanned - 3, 0))
            if end < 0:
                state.newlines += buffer.count(b"\n", state.scanned)
                state.crlfs += buffer.count(b"\r\n", max(state.scanned - 1, 0))
                state.scanned = len(buffer)
                if len(buffer) > HEAD_MAX_BYTES:
                    self._close(conn, HEAD_TOO_LARGE)
                elif state.newlines != state.crlfs:
                    self._dispatch(conn, state)  # a bare LF: the parser refuses it at once
                return
            if end > HEAD_MAX_BYTES:
                self._close(conn, HEAD_TOO_LARGE)
                return
            length = body_length_to_read_first(bytes(buffer[:end]))
            if length is None:
                self._dispatch(conn, state, streams_body=True)
                return
            state.request_end = end + 4 + length
            state.deadline = time.monotonic() + self.body_idle_timeout
        if len(buffer) >= state.request_end:
            self._dispatch(conn, state)

    def _stop_reading(self, conn: gthread.TConn) -> None:
        state = self.reading.pop(conn, None)
        if state is not None and state.is_registered:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)

    def _dispatch(self, conn: gthread.TConn, state: _Reading, *, streams_body: bool = False) -> None:
        self._stop_reading(conn)
        conn.parser.unreader.unread(bytes(state.buffer))
        conn.data_ready = True
        if not streams_body:
            super().enqueue_req(conn)
            return
        buffer = bytes(state.buffer)
        client, already = self._client_of(conn, buffer), max(len(buffer) - buffer.find(b"\r\n\r\n") - 4, 0)
        if self._may_stream(client):
            self._stream(conn, client, already)
        elif self.waits_of[client] >= self.waits_per_client:
            self._close(conn, BUSY)
        else:
            self.waits_of[client] += 1
            self.waiting_for_slot.append((conn, time.monotonic() + self.body_idle_timeout, client, already))

    def _client_of(self, conn: gthread.TConn, buffer: bytes) -> str:
        head = buffer[: buffer.find(b"\r\n\r\n")]
        forwarded = b",".join(
            value
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
            if name.strip().lower() == b"x-forwarded-for"
        )
        peer = conn.client[0] if isinstance(conn.client, tuple) else str(conn.client)
        return client_address(str(peer), forwarded.decode("latin-1"), self.proxy_hops)

    def _stop_waiting(self, client: str) -> None:
        self.waits_of[client] -= 1
        if not self.waits_of[client]:
            del self.waits_of[client]

    def _may_stream(self, client: str) -> bool:
        return len(self.streaming) < self.streaming_slots and self.streams_of[client] < self.streams_per_client

    def _stream(self, conn: gthread.TConn, client: str, already: int) -> None:
        self.streaming[conn] = client
        self.streams_of[client] += 1
        start_body = getattr(conn.parser.unreader, "start_body", None)  # not under an h2c upgrade
        if start_body is not None:
            start_body(already)
        super().enqueue_req(conn)

    def finish_request(self, conn: gthread.TConn, fs: Any) -> None:
        client = self.streaming.pop(conn, None)
        if client is not None:
            self.streams_of[client] -= 1
            if not self.streams_of[client]:
                del self.streams_of[client]
            with contextlib.suppress(AttributeError):  # a connection gthread closed has no parser
                conn.parser.unreader.end_body()
        super().finish_request(conn, fs)
        if client is not None and self.waiting_for_slot and len(self.streaming) < self.streaming_slots:
            waiting, self.waiting_for_slot = self.waiting_for_slot, deque()
            for entry in waiting:  # in arrival order, skipping clients at their share
                if self._may_stream(entry[2]):
                    self._stop_waiting(entry[2])
                    self._stream(entry[0], entry[2], entry[3])
                else:
                    self.waiting_for_slot.append(entry)

    def _close(self, conn: gthread.TConn, response: bytes = b"") -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        if response:
            with contextlib.suppress(OSError):
                conn.sock.send(response)
        # Lingers for the client's FIN on the loop (`_close_socket`), so that request bytes still
        # arriving do not turn the close into a reset over the answer.
        conn.close(graceful=True)

    def _close_socket(self, sock: socket.socket, graceful: bool = False) -> None:
        """`TConn.close`, without blocking the loop. gunicorn 27 closes a connection whose request
        is done gracefully on the loop's thread (shut down writes, then a blocking read of up to
        2 s for the client's FIN): a few hundred clients that never close stalled every other
        connection of the worker for seconds. Here the lingering read is the loop's, non-blocking."""
        if not graceful:
            gunicorn.util.close(sock)
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._linger, sock))
        except (OSError, ValueError, KeyError):
            gunicorn.util.close(sock)
            return
        self.lingering[sock] = (time.monotonic() + LINGER_SECONDS, 0)
        self.nr_conns += 1  # still an open socket: counted against worker_connections until closed

    def _linger(self, sock: socket.socket, _sock: Any = None) -> None:
        deadline, drained = self.lingering[sock]
        try:
            data = sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        drained += len(data)
        if data and drained < LINGER_MAX_BYTES:
            self.lingering[sock] = (deadline, drained)
        else:
            self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        if self.lingering.pop(sock, None) is not None:
            self.nr_conns -= 1
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(sock)
        gunicorn.util.close(sock)

    def murder_pending(self) -> None:
        """Called by gthread's loop about once a second: also cut what is reading too slowly, and
        now and then return malloc's free pages."""
        super().murder_pending()
        now = time.monotonic()
        if now - self.trimmed_at >= MALLOC_TRIM_SECONDS:
            self.trimmed_at = now
            malloc.trim()
        for sock, (deadline, _drained) in list(self.lingering.items()):
            if deadline <= now:
                self._end_linger(sock)
        for conn, state in list(self.reading.items()):
            if state.deadline > now:
                continue
            if not state.buffer:
                self._close(conn)  # never sent a byte (a browser's preconnect): nothing to answer
            else:
                self._close(conn, HEAD_TIMED_OUT if state.request_end is None else BODY_TIMED_OUT)
        while self.waiting_for_slot and self.waiting_for_slot[0][1] <= now:
            conn, _deadline, client, _already = self.waiting_for_slot.popleft()
            self._stop_waiting(client)
            self._close(conn, BUSY)
