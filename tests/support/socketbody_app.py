"""A WSGI app for tests/core/test_socketbody.py, served by a real gunicorn.

PUT / reads the body with `core.socketbody.SocketBody` and answers `<bytes read> <sha256>`.
Query parameters: `take=N` stops after N bytes (gunicorn must discard the rest), `first=N` reads N
bytes through `wsgi.input` before asking for a SocketBody (which must then refuse), `step=N` is
the readinto() buffer size.
"""

import hashlib
from types import SimpleNamespace
from urllib.parse import parse_qs

from core.socketbody import socket_body


def app(environ, start_response):
    query = {key: int(values[0]) for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    digest = hashlib.sha256()
    total = 0
    if query.get("first"):
        head = environ["wsgi.input"].read(query["first"])
        digest.update(head)
        total += len(head)
    body = socket_body(SimpleNamespace(META=environ))
    if body is None:
        rest = environ["wsgi.input"].read()
        digest.update(rest)
        total += len(rest)
        kind = "wsgi"
    else:
        kind = "socket"
        buffer = bytearray(query.get("step", 1 << 20))
        limit = query.get("take")
        while limit is None or total < limit:
            wanted = len(buffer) if limit is None else min(len(buffer), limit - total)
            count = body.readinto(memoryview(buffer)[:wanted])
            if not count:
                break
            digest.update(memoryview(buffer)[:count])
            total += count
    answer = f"{kind} {total} {digest.hexdigest()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
