"""GET/HEAD /{[datasets/]}{ns}/{name}/resolve/{rev}/{path}: the download path.

The metadata path (HEAD) does no hashing and no tree walk beyond cached, content-addressed tree
lookups: sizes and hashes were computed when the file was committed. Bytes are streamed from the
blob store through `FileResponse`, which gunicorn turns into sendfile(2); nothing is read into
memory, and responses are never compressed (the client checks sizes).
"""

from __future__ import annotations

import logging
import re

from django.db.models import F
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from core.errors import ContentUnavailable, RangeNotSatisfiable
from gating.policy import Action, anyone_may_download, check_download
from registry import content, trees
from registry.api.base import RepoView
from registry.models import Repo
from registry.paths import validate_path
from registry.redirects import signed_redirect
from registry.selectors import entry_sha256, find_file, revision_candidates, split_revision_path
from registry.storage import get_storage

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Files whose download marks a download of the whole repo, as on the Hub (diffusers: model_index).
QUERY_FILES = ("config.json", "model_index.json")


# Past any file: a position with more digits than this is read as "beyond the end".
_MAX_POSITION_DIGITS = 18


def _position(digits: str) -> int:
    """SECURITY: a Range may carry thousands of digits; Python refuses to convert more than 4300
    (a 500 before), and no file has a byte past 10**18, so longer numbers mean "past the end"."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_POSITION_DIGITS else 10**_MAX_POSITION_DIGITS


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single satisfiable range; None to serve the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multi-range or malformed: RFC 9110 lets us ignore it and send everything
    first, last = match.group(1), match.group(2)
    if first:
        start = _position(first)
        end = min(_position(last), size - 1) if last else size - 1
        if start >= size or (last and _position(last) < start):
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    else:
        length = _position(last)
        if length == 0 or size == 0:  # RFC 9110 14.1.1: no suffix of an empty file is satisfiable
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        start, end = max(size - length, 0), size - 1
    return start, end


class BoundedFile:
    """A file positioned at `start` that yields exactly `length` bytes. It keeps `fileno()`, so
    gunicorn still uses sendfile (it sends Content-Length bytes from the current offset)."""

    def __init__(self, handle, start: int, length: int):
        handle.seek(start)
        self._handle = handle
        self._remaining = length

    def fileno(self) -> int:
        return self._handle.fileno()

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def counts_as_download(request, path: str, tree_oid: str) -> bool:
    """As on the Hub: a GET of the repo's query file, or of any file where there is none."""
    if request.method != "GET":
        return False
    if path in QUERY_FILES:
        return True
    # A repo without a query file counts a download of any of its files.
    root = trees.tree_index(tree_oid)
    return not any(name in root for name in QUERY_FILES)


def count_download(repo: Repo) -> None:
    Repo.objects.filter(pk=repo.pk).update(downloads=F("downloads") + 1)


class ResolveView(RepoView):
    repo_actions = {"GET": Action.DOWNLOAD, "HEAD": Action.DOWNLOAD}

    def revision_candidates(self, kwargs) -> list[str] | None:
        return revision_candidates(kwargs["rest"], path_required=True)

    def get(self, request, namespace, name, rest, repo_type=None):
        resolved, path = split_revision_path(self.repo, rest, path_required=True)
        validate_path(path)
        check_download(self.principal, self.repo, resolved, path)
        entry = find_file(resolved, path)
        content.require_in_repo(self.repo.pk, entry_sha256(entry))
        size = entry["size"]
        filename = path.rsplit("/", 1)[-1]
        # SECURITY: a file an anonymous caller would not get is served because of who the caller is
        # (a role, a grant, an acknowledged license): `private`, so no shared cache keeps it.
        is_shared = self.principal.is_anonymous or anyone_may_download(self.repo, resolved, path)
        headers = {
            "X-Repo-Commit": resolved.commit_oid,
            "ETag": f'"{entry["oid"]}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition_header(True, filename),
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "no-cache" if is_shared else "private, no-cache",
            "Vary": "Authorization, Cookie",
        }
        if entry.get("lfs"):
            headers["X-Linked-Etag"] = f'"{entry["lfs"]["sha256"]}"'
            headers["X-Linked-Size"] = str(size)
            if xet_hash := content.xet_hash_cached(entry["lfs"]["sha256"]):
                # hf_xet downloads it chunk by chunk, with a read token for this exact commit.
                token_path = f"/api/{self.repo.repo_type}s/{self.repo.repo_id}/xet-read-token/{resolved.commit_oid}"
                headers["X-Xet-Hash"] = xet_hash
                headers["Link"] = f'<{request.build_absolute_uri(token_path)}>; rel="xet-auth"'
        byte_range = parse_range(request.headers.get("Range"), size)
        # Object storage: LFS files go straight from the store (a signed URL); small files from here.
        redirect = (
            signed_redirect(request, entry_sha256(entry), filename, is_private=not is_shared)
            if entry.get("lfs")
            else None
        )
        if redirect is not None:
            response = redirect
        elif request.method == "HEAD":
            response = HttpResponse(content_type="application/octet-stream")
            response["Content-Length"] = str(size)
        else:
            response = self._stream(entry, byte_range, size)
        is_first_byte = byte_range is None or byte_range[0] == 0
        if is_first_byte and counts_as_download(request, path, resolved.tree_oid):
            count_download(self.repo)
        for key, value in headers.items():
            response[key] = value
        return response

    def _stream(self, entry: trees.Entry, byte_range: tuple[int, int] | None, size: int):
        sha256 = entry_sha256(entry)
        storage = get_storage()
        if not storage.exists(sha256):
            return _rebuilt(sha256, byte_range, size)
        handle = storage.open(sha256)
        if byte_range is None:
            response = FileResponse(handle, content_type="application/octet-stream")
            response["Content-Length"] = str(size)
            return response
        start, end = byte_range
        response = FileResponse(BoundedFile(handle, start, end - start + 1), content_type="application/octet-stream")
        response.status_code = 206
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        return response


def _rebuilt(sha256: str, byte_range: tuple[int, int] | None, size: int) -> StreamingHttpResponse:
    """Content stored only as Xet chunks, rebuilt as it is sent (memory bounded by one piece).
    Missing pieces are found before the first byte: an error then, never a 200 that stops short."""
    start, end = byte_range or (0, size - 1)
    try:
        pieces = content.iter_range(sha256, start, end + 1)
    except FileNotFoundError:
        logger.exception("Stored content of %s cannot be read", sha256)
        raise ContentUnavailable() from None
    response = StreamingHttpResponse(pieces, content_type="application/octet-stream")
    response["Content-Length"] = str(end - start + 1)
    if byte_range is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
