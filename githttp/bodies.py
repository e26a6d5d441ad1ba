"""Reading a git request body within bounds.

git sends small requests with a `Content-Length`, larger ones (over `http.postBuffer`, 1 MiB)
chunked, and may gzip them (`Content-Encoding: gzip`). Django reads no body without a
`Content-Length`, so chunked bodies are read from the WSGI stream: already de-chunked by
gunicorn (`wsgi.input_terminated`, as deployed), de-chunked here for WSGI servers that pass the
raw stream on. Django's own runserver cannot read a chunked body at all (its stream stops at
`Content-Length`): there, requests larger than git's `http.postBuffer` fail with a clear 400.

Bounds: the body as sent and as inflated at most `limit` bytes; chunk-size lines at most 64
bytes; pkt-lines at most 65,520 bytes (git's own maximum); `MAX_WANTS` wants and `MAX_HAVES` haves.
"""

from __future__ import annotations

import tempfile
import zlib

from core import bodies
from core.errors import BadRequest, PayloadTooLarge

MAX_WANTS = 10_000
MAX_HAVES = 50_000
MAX_PKT_LINE = 65_520
SPOOL_IN_MEMORY = 8 * 1024 * 1024
COPY_CHUNK = 1024 * 1024


def read_body(request, limit: int) -> bytes:
    if bodies.content_length(request) is not None:
        data = request.read(limit + 1)
    elif request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        stream = request.META["wsgi.input"]
        terminated = request.META.get("wsgi.input_terminated")  # gunicorn de-chunked it already
        data = stream.read(limit + 1) if terminated else _dechunk(stream, limit)
    else:
        data = b""
    if len(data) > limit:
        raise PayloadTooLarge(f"A git request may be at most {limit} bytes.")
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(data, limit + 1)
        except zlib.error:
            raise BadRequest("The request body is not valid gzip.") from None
        if len(data) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"A git request may inflate to at most {limit} bytes.")
    return data


def _dechunk(stream, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(64)
        if not line.endswith(b"\n"):
            raise BadRequest("Malformed chunked body.")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest("Malformed chunked body.") from None
        if size == 0:
            while stream.readline(1024).strip():  # trailers, then the final empty line
                pass
            return b"".join(parts)
        total += size
        if total > limit:
            raise PayloadTooLarge(f"A git request may be at most {limit} bytes.")
        chunk = stream.read(size)
        if len(chunk) != size:
            raise BadRequest("The chunked body stopped short.")
        parts.append(chunk)
        stream.readline(64)


def check_negotiation(body: bytes) -> None:
    """Bounds on an upload-pack request: well-formed pkt-lines, at most MAX_WANTS wants and
    MAX_HAVES haves (dulwich reads them one by one; this refuses a flood before it does)."""
    wants = haves = 0
    offset = 0
    while offset < len(body):
        try:
            size = int(body[offset : offset + 4], 16)
        except ValueError:
            raise BadRequest("Malformed pkt-line.") from None
        if size in (0, 1, 2):
            offset += 4
            continue
        if size < 4 or size > MAX_PKT_LINE + 4 or offset + size > len(body):
            raise BadRequest("Malformed pkt-line.")
        head = body[offset + 4 : offset + 9]
        wants += head == b"want "
        haves += head == b"have "
        offset += size
    if wants > MAX_WANTS or haves > MAX_HAVES:
        raise BadRequest(f"At most {MAX_WANTS} wants and {MAX_HAVES} haves per request.")


def spool_body(request, limit: int):
    """A request body of at most `limit` bytes, as sent (git sends a push's pack unzipped), into a
    temporary file that stays in memory up to SPOOL_IN_MEMORY: a large push costs disk, not memory."""
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() not in ("", "identity"):
        raise BadRequest("A push's body must not be compressed.")
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - the caller closes it
    try:
        if (length := bodies.content_length(request)) is not None:
            if length > limit:
                raise PayloadTooLarge(f"A push may be at most {limit} bytes.")
            _copy(request, spooled, length)
        elif request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            stream = request.META["wsgi.input"]
            if request.META.get("wsgi.input_terminated"):  # gunicorn de-chunked it already
                _copy(stream, spooled, limit + 1)
            else:
                spooled.write(_dechunk(stream, limit))
        if spooled.tell() > limit:
            raise PayloadTooLarge(f"A push may be at most {limit} bytes.")
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


def _copy(source, target, at_most: int) -> None:
    while at_most > 0 and (chunk := source.read(min(COPY_CHUNK, at_most))):
        target.write(chunk)
        at_most -= len(chunk)
