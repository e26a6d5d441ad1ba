"""A TCP forwarder on a loopback port of its own: the object store "under another name", as clients
reach a store behind a load balancer or a public host name while the hub reaches it directly.
Bytes pass unchanged (the `Host` the client signed for is the forwarder's); it counts them each way.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Forwarder:
    url: str
    bytes_to_store: int = 0
    bytes_to_client: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)


def _pipe(source: socket.socket, target: socket.socket, forwarder: Forwarder, counter: str) -> None:
    try:
        while data := source.recv(256 * 1024):
            target.sendall(data)
            with forwarder._lock:
                setattr(forwarder, counter, getattr(forwarder, counter) + len(data))
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _serve(listener: socket.socket, target: tuple[str, int], forwarder: Forwarder) -> None:
    while True:
        try:
            client, _address = listener.accept()
        except OSError:
            return  # closed
        upstream = socket.create_connection(target)
        for source, sink, counter in ((client, upstream, "bytes_to_store"), (upstream, client, "bytes_to_client")):
            threading.Thread(target=_pipe, args=(source, sink, forwarder, counter), daemon=True).start()


@contextmanager
def forwarding(target_url: str):
    """Yield a `Forwarder` whose `url` reaches `target_url`'s host and port; closed on leaving."""
    parts = urlsplit(target_url)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    forwarder = Forwarder(url=f"{parts.scheme}://127.0.0.1:{listener.getsockname()[1]}")
    thread = threading.Thread(target=_serve, args=(listener, (parts.hostname, parts.port), forwarder), daemon=True)
    thread.start()
    try:
        yield forwarder
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
