"""core.socketbody under a real gunicorn (gthread, as deployed): the body read straight from the
socket is byte-exact, and the connection stays framed: keep-alive, pipelined requests and bodies
left half-read all work; a body the application already started reading is not taken over."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
from importlib import metadata
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from core.errors import RequestTimeout
from core.socketbody import SocketBody, socket_body
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


@pytest.mark.parametrize("first_size", [1000, 600_000], ids=["buffered", "from-socket"])
def test_pipelined_request_behind_the_body_is_served(server, first_size):
    bodies = [os.urandom(first_size), os.urandom(3000)]
    raw = b"".join(b"PUT / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body) + body for body in bodies)
    with socket.create_connection(("127.0.0.1", server), timeout=30) as sock:
        sock.sendall(raw)  # the second request follows the first body's last byte at once
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


def test_chunked_body_keeps_the_wsgi_stream(server):
    data = os.urandom(300_000)
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.request("PUT", "/", body=iter([data[:100_000], data[100_000:]]), encode_chunked=True)
    assert connection.getresponse().read().decode() == answer_for("wsgi", data)


def _gunicorn_request(sock: socket.socket, length: int, head: bytes = b""):
    """What gunicorn's parser leaves in the WSGI environ for a Content-Length body, with `head`
    already received past the headers: the very classes socket_body() relies on."""
    unreader = SocketUnreader(sock)
    unreader.unread(head)
    body = Body(LengthReader(unreader, length))
    environ = {"gunicorn.socket": sock, "wsgi.input": body, "CONTENT_LENGTH": str(length)}
    return SimpleNamespace(META=environ), body


def test_gunicorn_is_the_version_socketbody_and_the_worker_were_written_against():
    """core/socketbody.py and core/gunicorn_worker.py read gunicorn's internals: an upgrade must
    come with a look at both (and this pin moved), not slip in with a requirements refresh."""
    assert metadata.version("gunicorn") == "27.0.1"


def test_gunicorn_body_classes_still_have_the_shape_relied_on():
    # A gunicorn upgrade that renames these must fail here, not silently slow uploads down.
    server, client = socket.socketpair()
    with server, client:
        request, body = _gunicorn_request(server, 10, head=b"0123456789NEXT")
        taken = socket_body(request)
        assert isinstance(taken, SocketBody) and socket_body(request) is taken
        assert taken.read() == b"0123456789"
        assert body.reader.length == 0 and body.reader.unreader.take_buffered() == b"NEXT"


def test_client_gone_mid_body_marks_the_body_failed():
    server, client = socket.socketpair()
    with server:
        request, body = _gunicorn_request(server, 1000, head=b"x" * 10)
        client.sendall(b"y" * 90)
        client.close()
        taken = socket_body(request)
        assert taken.read() == b"x" * 10 + b"y" * 90
        assert body.failed is True  # gunicorn closes the connection instead of reusing it


def test_stalled_client_times_out_and_marks_the_body_failed():
    server, client = socket.socketpair()
    with server, client:
        request, body = _gunicorn_request(server, 1000)
        client.sendall(b"z" * 10)
        taken = socket_body(request, idle_timeout=0.05)
        assert taken.read(100) == b"z" * 10
        outcome: list[BaseException] = []

        def read_on():  # nothing more arrives; in a thread, so a missing timeout fails, not hangs
            try:
                taken.read(100)
            except BaseException as exc:  # noqa: BLE001 - the outcome is what is checked
                outcome.append(exc)

        reader = threading.Thread(target=read_on, daemon=True)
        reader.start()
        reader.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], RequestTimeout) and outcome[0].status == 408
        assert body.failed is True


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
