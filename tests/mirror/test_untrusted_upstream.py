"""The mirror against an upstream that lies or redirects: a small HTTP server in the test
process plays it (the real one, tests/mirror/conftest.py, never misbehaves)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mirror import client
from mirror.config import upstream_named
from mirror.models import MirrorObject, MirrorPull

# Past one chunk of the mirror's fetch (1 MiB), so the lie shows once bytes are on their way.
ANNOUNCED = b"the bytes the upstream announced\n" * 70_000
SENT = b"other bytes, of the same length!\n" * 70_000
COMMIT = "a" * 40


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]]
    redirect_to: str = ""
    links: str = ""  # a Link header on API answers ("{self}" is this server's origin)
    api_bytes: int = 0  # API answers this long (spaces after the JSON)
    trickle: float = 0.0  # seconds between the bytes of API answers
    pace: float = 0.0  # seconds between the 256 KiB pieces of file content

    def log_message(self, *args):  # quiet
        pass

    def _record(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))

    def do_HEAD(self):
        self._record()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{"b" * 40}"')
        self.send_header("X-Linked-Etag", f'"{hashlib.sha256(ANNOUNCED).hexdigest()}"')
        self.send_header("X-Linked-Size", str(len(ANNOUNCED)))
        self.send_header("Content-Length", str(len(ANNOUNCED)))
        self.end_headers()

    def do_GET(self):
        self._record()
        if self.path.startswith("/api/"):
            body = json.dumps({"id": "liar/model", "sha": COMMIT}).encode()
            body += b" " * max(0, self.api_bytes - len(body))
            if self.trickle:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(self.trickle)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if self.links:
                origin = f"http://127.0.0.1:{self.server.server_address[1]}"
                self.send_header("Link", self.links.replace("{self}", origin))
        elif self.redirect_to and "/resolve/" in self.path:
            body = b""
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
        else:
            body = SENT
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body is SENT and self.pace:
            for start in range(0, len(body), 256 * 1024):
                self.wfile.write(body[start : start + 256 * 1024])
                self.wfile.flush()
                time.sleep(self.pace)
            return
        self.wfile.write(body)


@pytest.fixture
def servers():
    started = []

    def serve(**attributes):
        handler = type("Handler", (Recorder,), {"seen": [], **attributes})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield serve
    for server in started:
        server.shutdown()
        server.server_close()


def _configure(settings, endpoint: str, token: str | None = None) -> None:
    settings.GATEHOUSE_UPSTREAMS = [{"name": "liar", "endpoint": endpoint, "namespaces": ["liar"], "token": token}]
    from django.core.cache import cache

    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_content_that_does_not_match_is_cut_short_and_not_kept(live_server, settings, servers):
    endpoint, _ = servers()
    _configure(settings, endpoint)
    url = f"{live_server.url}/liar/model/resolve/main/weights.safetensors"
    for _ in range(2):  # refused, then fetched again and refused again
        assert _received(url) < len(SENT)
    assert not MirrorObject.objects.filter(state="stored").exists()
    assert not MirrorPull.objects.filter(source="cache").exists()


@pytest.mark.django_db(transaction=True)
def test_a_mismatch_cuts_every_follower_short(live_server, settings, servers):
    """Three first downloads at once of content the upstream lies about (sent over about a
    second): fetched once, and each response ends short of its Content-Length."""
    endpoint, handler = servers(pace=0.1)
    _configure(settings, endpoint)
    url = f"{live_server.url}/liar/model/resolve/main/weights.safetensors"
    received: list[int] = []
    barrier = threading.Barrier(3)

    def follow() -> None:
        barrier.wait()
        received.append(_received(url))

    threads = [threading.Thread(target=follow) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(received) == 3 and max(received) < len(SENT)
    assert max(received) > 0  # they followed the fetch as it ran, up to the bytes held back
    assert len([seen for seen in handler.seen if seen[0] == "GET" and "/resolve/" in seen[1]]) == 1
    assert not MirrorObject.objects.filter(state="stored").exists()


@pytest.mark.django_db(transaction=True)
def test_a_range_in_the_held_tail_of_a_lie_is_a_typed_error(live_server, settings, servers):
    """Found by the attack: a range whose first byte must wait for the verification (the last
    1 MiB) was answered a bare HTML 500 when the fetch failed (the body failed before its first
    byte); it now waits for the verification before answering: a typed 502, nothing kept."""
    endpoint, _ = servers()
    _configure(settings, endpoint)
    url = f"{live_server.url}/liar/model/resolve/main/weights.safetensors"
    response = requests.get(url, headers={"Range": f"bytes={len(SENT) - 100}-"}, timeout=30)
    assert response.status_code == 502
    assert response.headers["X-Error-Code"] == "UpstreamError"
    assert not MirrorObject.objects.filter(state="stored").exists()


def _received(url: str, timeout: float = 2) -> int:
    """Bytes of the body that arrived before the server cut the response short (the test
    server leaves the socket open after the error: a read timeout ends the wait)."""
    received = 0
    with requests.get(url, stream=True, timeout=timeout) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(SENT)
        with pytest.raises(requests.RequestException):
            for chunk in response.iter_content(64 * 1024):
                received += len(chunk)
    return received


def test_a_redirect_to_another_origin_never_carries_the_token(settings, servers):
    """SECURITY: the operator's token goes to the upstream's own origin only."""
    elsewhere, other = servers()
    endpoint, upstream_handler = servers(redirect_to=elsewhere)
    _configure(settings, endpoint, token="operator-secret")
    upstream = upstream_named("liar")
    assert upstream is not None
    response = client.request(upstream, "GET", "/liar/model/resolve/main/x.bin", token="operator-secret", stream=True)
    assert response.status == 200 and response.read() == SENT
    assert upstream_handler.seen == [("GET", "/liar/model/resolve/main/x.bin", "Bearer operator-secret")]
    assert other.seen == [("GET", "/liar/model/resolve/main/x.bin", None)]


@pytest.mark.django_db(transaction=True)
def test_pagination_links_to_another_origin_or_route_are_dropped(live_server, settings, servers):
    """Found by an outsider attack: the client follows `rel="next"` with the caller's Gatehouse
    token, and the mirror passed an upstream's link to any origin on unchanged."""
    route = "/api/models/liar/model/tree/main"
    links = (
        '<http://127.0.0.1:9/steal?p=1>; rel="next", '
        f'<{{self}}/api/models/other/repo/tree/main?p=1>; rel="next", '
        f'<{{self}}{route}?cursor=abc>; rel="next"'
    )
    endpoint, _ = servers(links=links)
    _configure(settings, endpoint)
    response = requests.get(f"{live_server.url}{route}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Link"] == f'<{live_server.url}{route}?cursor=abc>; rel="next"'


@pytest.mark.django_db(transaction=True)
def test_an_oversized_or_trickling_answer_is_cut_off(live_server, settings, servers):
    """Found by an outsider attack: a 400 MiB answer grew a worker by 900 MB, and answers
    trickling a byte every few seconds held every thread of the hub."""
    from mirror import client as mirror_client

    endpoint, _ = servers(api_bytes=mirror_client.MAX_ANSWER_BYTES + 1)
    _configure(settings, endpoint)
    huge = requests.get(f"{live_server.url}/api/models/liar/model", timeout=60)
    assert (huge.status_code, huge.headers["X-Error-Code"]) == (502, "UpstreamInvalid")

    endpoint, _ = servers(trickle=0.2)
    _configure(settings, endpoint)
    settings.GATEHOUSE_MIRROR_READ_TIMEOUT = 1
    started = time.monotonic()
    slow = requests.get(f"{live_server.url}/api/models/liar/model", timeout=60)
    assert slow.status_code == 503 and time.monotonic() - started < 10


SMALL_ANNOUNCED = b"small announced bytes\n" * 4000  # under the follower's held last MiB
SMALL_SENT = b"small other bytes!!!!\n" * 4000


class SmallLiar(Recorder):
    def do_HEAD(self):
        self._record()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{"b" * 40}"')
        self.send_header("X-Linked-Etag", f'"{hashlib.sha256(SMALL_ANNOUNCED).hexdigest()}"')
        self.send_header("X-Linked-Size", str(len(SMALL_ANNOUNCED)))
        self.send_header("Content-Length", str(len(SMALL_ANNOUNCED)))
        self.end_headers()

    def do_GET(self):
        if self.path.startswith("/api/"):
            return Recorder.do_GET(self)
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", str(len(SMALL_SENT)))
        self.end_headers()
        self.wfile.write(SMALL_SENT)


@pytest.mark.django_db(transaction=True)
def test_a_failed_fetch_before_the_first_byte_is_a_502(live_server, settings, servers):
    """A file under the held last MiB (or a range in it) whose fetch fails sends no byte: the
    answer is the upstream error (502, JSON), not a failure of the response body (found by an
    outsider attack: gunicorn answered a bare HTML 500)."""
    endpoint, _ = servers(do_HEAD=SmallLiar.do_HEAD, do_GET=SmallLiar.do_GET)
    _configure(settings, endpoint)
    url = f"{live_server.url}/liar/model/resolve/main/small.safetensors"
    for headers in ({}, {"Range": "bytes=0-9"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 502, response.text[:200]
        assert response.json()["code"] == "UpstreamError"
