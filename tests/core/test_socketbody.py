"""core.socketbody under a real gunicorn (gthread, as deployed): the body read straight from the
socket is byte-exact, and the connection stays framed: keep-alive, pipelined requests and bodies
left half-read all work; a body the application already started reading is not taken over."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
from urllib.parse import urlsplit

import pytest

from tests.support.gunicorn import gunicorn


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with gunicorn("tests.support.socketbody_app:app", log=log) as url:
        yield urlsplit(url).port


def answer_for(kind: str, data: bytes) -> str:
    return f"{kind} {len(data)} {hashlib.sha256(data).hexdigest()}"


def test_large_body_is_read_from_the_socket_exactly(server):
    data = os.urandom(9 * 1024 * 1024 + 17)
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.request("PUT", "/?step=7777", body=data)
    assert connection.getresponse().read().decode() == answer_for("socket", data)


def test_keep_alive_connection_is_reused_after_full_and_partial_reads(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    # gunicorn drains up to 64 KiB of unread body before it serves the next request on a connection.
    first, second, third = os.urandom(3 * 1024 * 1024), os.urandom(40_000), os.urandom(5000)
    connection.request("PUT", "/", body=first)
    assert connection.getresponse().read().decode() == answer_for("socket", first)
    sock = connection.sock
    connection.request("PUT", "/?take=1000", body=second)  # gunicorn must discard the rest
    assert connection.getresponse().read().decode() == answer_for("socket", second[:1000])
    connection.request("PUT", "/", body=third)
    assert connection.getresponse().read().decode() == answer_for("socket", third)
    assert connection.sock is sock, "the connection was not kept alive"


def test_pipelined_request_behind_the_body_is_served(server):
    bodies = [os.urandom(1000), os.urandom(3000)]
    raw = b"".join(b"PUT / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body) + body for body in bodies)
    with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
        sock.sendall(raw)  # both requests arrive in gunicorn's first recv()
        reader = sock.makefile("rb")
        answers = []
        for _ in bodies:
            response = http.client.HTTPResponse(_Reader(reader))
            response.begin()
            answers.append(response.read().decode())
    assert answers == [answer_for("socket", body) for body in bodies]


def test_body_already_being_read_keeps_the_wsgi_stream(server):
    data = os.urandom(200_000)
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.request("PUT", "/?first=10", body=data)
    assert connection.getresponse().read().decode() == answer_for("wsgi", data)


class _Reader:
    """What http.client.HTTPResponse wants from a socket: here one buffered file shared by the
    responses read in turn, which none of them may close."""

    def __init__(self, file):
        self._file = file

    def makefile(self, mode):
        return self

    def __getattr__(self, name):
        return getattr(self._file, name)

    def close(self):
        pass
