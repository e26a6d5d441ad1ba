"""Slow clients cannot starve the service (issue 14): a head sent a line at a time, or a body that
stalls, is cut after its timeout, and `/healthz` keeps answering while hundreds of such clients
are connected. Gatehouse runs under a real gunicorn with the deployed worker
(core.gunicorn_worker), two threads, so two held threads would be enough to starve it; before,
gthread read heads and bodies in its threads without any timeout."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import worker_database_url
from tests.support.gunicorn import gunicorn

TIMEOUT = 1.5  # GATEHOUSE_HEAD_TIMEOUT and GATEHOUSE_BODY_IDLE_TIMEOUT of the strict server
MIN_RATE = 20_000  # its GATEHOUSE_BODY_MIN_RATE, bytes a second
SLACK = 3.0  # the worker checks deadlines about once a second; the machine is shared


POST_JSON = (
    b"POST /api/validate-yaml HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)


def _serve(tmp_path_factory, timeout: float, threads: int = 2, **extra: str):
    tmp = tmp_path_factory.mktemp("slow")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp / "var"),
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "ACCESS_LOG": "0",
        "GATEHOUSE_HEAD_TIMEOUT": str(timeout),
        "GATEHOUSE_BODY_IDLE_TIMEOUT": str(timeout),
        "GATEHOUSE_BODY_MIN_RATE": str(MIN_RATE),
        **extra,
    }
    return gunicorn("config.wsgi", log=tmp / "gunicorn.log", env=env, threads=threads)


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with _serve(tmp_path_factory, TIMEOUT) as url:
        yield url


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    """Timeouts far longer than the test: the slow connections stay open while /healthz is asked."""
    with _serve(tmp_path_factory, 120.0) as url:
        yield url


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The deployed thread count (8: six may read bodies), long timeouts, behind one proxy (the
    client's address comes from X-Forwarded-For)."""
    with _serve(tmp_path_factory, 120.0, threads=8, GATEHOUSE_TRUSTED_PROXY_HOPS="1") as url:
        yield url


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _answer_while(sock: socket.socket, send_more, *, every: float, give_up_after: float) -> tuple[bytes, float]:
    """Calls `send_more()` every `every` seconds until the server answers or closes; returns what
    it sent back (b"" if it closed) and the seconds that took."""
    started = time.monotonic()
    sock.settimeout(every)
    while time.monotonic() - started < give_up_after:
        try:
            data = sock.recv(65536)
            return data, time.monotonic() - started
        except TimeoutError:
            with contextlib.suppress(OSError):  # cut off: the next recv() reads the answer or the close
                send_more()
        except ConnectionResetError:
            return b"", time.monotonic() - started
    raise AssertionError(f"the server still waits for this client after {give_up_after} s")


def test_a_head_sent_one_line_at_a_time_is_cut_after_the_head_timeout(strict):
    with _connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        answer, elapsed = _answer_while(
            sock, lambda: sock.sendall(b"X-Slow: 1\r\n"), every=0.3, give_up_after=TIMEOUT + SLACK + 5
        )
    assert TIMEOUT - 0.1 <= elapsed <= TIMEOUT + SLACK
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert b"X-Error-Code: RequestTimeout" in answer


def test_a_head_that_arrives_in_time_is_served(strict):
    with _connect(strict) as sock:
        for line in (b"GET /healthz HTTP/1.1\r\n", b"Host: localhost\r\n", b"Connection: close\r\n", b"\r\n"):
            sock.sendall(line)
            time.sleep(TIMEOUT / 8)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("length", "sent"),
    [
        pytest.param(1000, 10, id="small body, read in the worker's loop"),
        pytest.param(4 * 1024 * 1024, 200 * 1024, id="large body, read by a thread"),
    ],
)
def test_a_body_that_stops_arriving_is_cut_after_the_idle_timeout(strict, length, sent):
    with _connect(strict) as sock:
        sock.sendall(POST_JSON % length)
        for _ in range(4):  # a body that trickles is not idle: not cut meanwhile
            sock.sendall(b" " * (sent // 4))
            time.sleep(TIMEOUT / 3)
        answer, elapsed = _answer_while(sock, lambda: None, every=0.3, give_up_after=TIMEOUT + SLACK + 5)
    assert elapsed <= TIMEOUT + SLACK
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_large_body_trickling_below_the_minimum_rate_is_cut(strict):
    """Never idle (a few hundred bytes every 0.3 s), but far below the minimum rate: it would
    hold a thread as long as it keeps trickling."""
    with _connect(strict) as sock:
        sock.sendall(POST_JSON % (4 * 1024 * 1024))  # past 64 KiB: a thread reads the body
        answer, elapsed = _answer_while(
            sock, lambda: sock.sendall(b" " * 600), every=0.3, give_up_after=TIMEOUT + SLACK + 5
        )
    assert elapsed <= TIMEOUT + SLACK
    assert answer.startswith(b"HTTP/1.1 408 ") and b"more slowly" in answer, answer[:300]


def test_healthz_answers_while_200_slow_clients_are_connected(patient):
    slow = []
    try:
        for index in range(200):
            sock = _connect(patient)
            if index % 3 == 0:  # part of a head
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")
            elif index % 3 == 1:  # a whole head and a tenth of a small body
                sock.sendall(POST_JSON % 1_000)
                sock.sendall(b" " * 100)
            else:  # the start of a body large enough to be read by a thread
                sock.sendall(POST_JSON % 1_000_000)
                sock.sendall(b" " * 1000)
            slow.append(sock)
        for _ in range(5):
            started = time.monotonic()
            response = requests.get(f"{patient}/healthz", timeout=15)
            assert response.status_code == 200
            assert time.monotonic() - started < 5.0
        busy = 0
        for index, sock in enumerate(slow):
            sock.setblocking(False)
            if index % 3 == 2:  # one address's large bodies: one thread, two waiting, the rest 503
                with contextlib.suppress(BlockingIOError):
                    busy += sock.recv(65536).startswith(b"HTTP/1.1 503 ")
                continue
            with pytest.raises(BlockingIOError):  # still connected, still waited for: not cut
                sock.recv(1)
        assert busy == len(range(2, 200, 3)) - 1 - 2
    finally:
        for sock in slow:
            sock.close()


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_pipelined_and_kept_alive_requests_are_still_served(strict):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with _connect(strict) as sock:
        sock.sendall(request * 2)  # two at once: the second is already buffered when the first ends
        time.sleep(0.2)
        sock.sendall(request[:-2] + b"Connection: close\r\n\r\n")
        answers = _read_until_closed(sock)
    assert answers.count(b"HTTP/1.1 200 ") == 3


def test_a_head_past_64_kib_is_refused(strict):
    with _connect(strict) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        with contextlib.suppress(OSError):  # the server may stop reading before the end
            sock.sendall(b"".join(b"X-Filler-%d: %s\r\n" % (i, b"x" * 1000) for i in range(70)))
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 431 ")


def test_a_head_with_bare_line_feeds_is_refused_at_once(strict):
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\nHost: localhost\n")
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert time.monotonic() - started < TIMEOUT


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(strict):
    with _connect(strict) as sock:
        answer, elapsed = _answer_while(sock, lambda: None, every=0.3, give_up_after=TIMEOUT + SLACK + 5)
    assert answer == b""  # closed without an answer: there was no request
    assert TIMEOUT - 0.1 <= elapsed <= TIMEOUT + SLACK


def test_uploads_trickling_in_cannot_hold_the_last_thread(strict):
    # The strict server has two threads: one for requests whose body a thread reads, one kept free.
    # The first trickles faster than the minimum rate: it keeps its thread.
    with _connect(strict) as first, _connect(strict) as second:
        first.sendall(POST_JSON % 1_000_000)
        time.sleep(0.3)
        second.sendall(POST_JSON % 1_000_000)  # waits for the first one's thread
        answer, elapsed = _answer_while(
            second, lambda: first.sendall(b" " * 10_000), every=0.3, give_up_after=TIMEOUT + SLACK + 5
        )
        assert requests.get(f"{strict}/healthz", timeout=5).status_code == 200  # the thread kept free
    assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
    assert elapsed <= TIMEOUT + SLACK


def test_connections_closed_after_a_refusal_do_not_stall_the_worker(deployed):
    """Refused before its body is read (401), each of these ends with a close that waits for the
    client's FIN, which never comes. gunicorn 27 waited on the worker's loop, up to 2 s each: six
    at once stopped every other connection for about 12 s."""
    head = POST_JSON.replace(b"/api/validate-yaml", b"/api/models/nobody/none/commit/main") % 1_000_000
    held = []
    try:
        for _ in range(12):
            sock = _connect(deployed)
            sock.sendall(head)  # and nothing more, never closing
            held.append(sock)
        started = time.monotonic()
        while time.monotonic() - started < 9:  # past the 5 s drain gunicorn gives an unread body
            asked = time.monotonic()
            assert requests.get(f"{deployed}/healthz", timeout=5).status_code == 200
            assert time.monotonic() - asked < 2.5
            time.sleep(0.3)
    finally:
        for sock in held:
            sock.close()


HOG = (
    b"POST /api/validate-yaml HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"X-Forwarded-For: %s\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n"
)


def test_one_client_cannot_take_every_upload_slot(deployed):
    """Bodies a thread reads may hold six of the eight threads; one address may hold four of them,
    so another client's upload still gets a thread however many connections the first opens."""
    hog = HOG % b"203.0.113.9"
    held = []
    try:
        for _ in range(10):
            sock = _connect(deployed)
            sock.sendall(hog)  # then no body: each holds a thread while it waits
            held.append(sock)
        time.sleep(1)
        card = json.dumps({"content": "---\nlicense: mit\n---\n" + "x" * 100_000})
        answer = requests.post(
            f"{deployed}/api/validate-yaml",
            data=card,
            timeout=5,
            headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.7"},
        )
        assert answer.status_code == 200, answer.text[:200]
    finally:
        for sock in held:
            sock.close()


def test_one_client_cannot_queue_without_bound(deployed):
    """Past its four body threads a client may have eight requests waiting for one; more are
    answered 503 at once (a waiting connection is not watched for its client going away)."""
    held = []
    try:
        for _ in range(20):
            sock = _connect(deployed)
            sock.sendall(HOG % b"203.0.113.10")
            held.append(sock)
        time.sleep(1.5)
        busy = 0
        for sock in held:
            sock.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                busy += sock.recv(65536).startswith(b"HTTP/1.1 503 ")
        assert busy >= 20 - 4 - 8  # more where other clients hold body threads
    finally:
        for sock in held:
            sock.close()


@pytest.mark.django_db(transaction=True)
def test_clients_that_stop_reading_a_download_free_their_threads(tmp_path_factory, settings, alice):
    """Found by an outsider attack: sockets that never read a large download held every thread
    (sendfile blocked without a timeout) and no route answered. Two threads, two such clients: once
    GATEHOUSE_SEND_IDLE_TIMEOUT has passed, /healthz is served again."""
    from tests.support.builders import make_repo

    make_repo(alice, "big", {"weights.bin": bytes(32 * 1024 * 1024)})
    with _serve(
        tmp_path_factory,
        120.0,
        GATEHOUSE_SEND_IDLE_TIMEOUT="2",
        GATEHOUSE_STORAGE_ROOT=str(settings.GATEHOUSE_STORAGE_ROOT),
    ) as url:
        stuck = []
        try:
            for _ in range(2):
                parts = urlsplit(url)
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect((parts.hostname, parts.port))
                sock.sendall(b"GET /alice/big/resolve/main/weights.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                stuck.append(sock)  # never read
            time.sleep(1)  # both threads are now blocked in their sends
            answered = requests.get(f"{url}/healthz", timeout=2 + SLACK + 10)
            assert answered.status_code == 200
        finally:
            for sock in stuck:
                sock.close()
