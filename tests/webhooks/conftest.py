"""Webhook test set-up: receivers on loopback addresses only (127.0.0.2, ::1), tasks run where
they are queued, retries without waiting, and a way to hold deliveries back to attempt by hand."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny HTTP server; `answers` are the statuses of the next requests (then 200)."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    location: str = ""

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/hook"

    @property
    def port(self) -> int:
        return self.server.server_address[1]


def _handler(receiver_box: list[Receiver]):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            receiver = receiver_box[0]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


def _serve(host: str, family: int = socket.AF_INET, tls: ssl.SSLContext | None = None):
    box: list[Receiver] = []

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    server = Server((host, 0), _handler(box))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(server)
    box.append(receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return receiver, thread


@pytest.fixture
def receiver():
    receiver, thread = _serve("127.0.0.2")
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join(5)


@pytest.fixture
def tls_receiver():
    """An HTTPS receiver on 127.0.0.2 whose certificate, from a throwaway CA, names
    `hooks.example`; yields the receiver and the CA's PEM file."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.example").configure_cert(context)
    receiver, thread = _serve("127.0.0.2", tls=context)
    with authority.cert_pem.tempfile() as ca_file:
        yield receiver, ca_file
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join(5)


@pytest.fixture
def receiver6():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        receiver, thread = _serve("::1", socket.AF_INET6)
    except OSError:
        pytest.skip("::1 is not available on this machine")
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    """Retries without waiting (the backoff is GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS × 2^n), and a
    short timeout; private addresses stay refused unless a test allows them."""
    settings.GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS = 0.0
    settings.GATEHOUSE_WEBHOOK_TIMEOUT = 2.0
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = False
    settings.GATEHOUSE_PUBLIC_URL = "http://hub.test"


@pytest.fixture(autouse=True)
def _eager_tasks():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    cache.clear()
    yield
    app.conf.task_always_eager = before
    cache.clear()


@pytest.fixture
def held(monkeypatch):
    """Deliveries are recorded but not sent: their ids collect here, for attempts by hand."""
    from webhooks import services

    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown=0: queued.append(pk))
    return queued
