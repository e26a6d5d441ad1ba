"""GET/HEAD /{[datasets/]}{ns}/{name}/resolve/{rev}/{path}: the download path.

The metadata path (HEAD) does no hashing and no tree walk beyond cached, content-addressed tree
lookups: sizes and hashes were computed when the file was committed. Bytes are streamed from the
blob store through `FileResponse`, which gunicorn turns into sendfile(2); nothing is read into
memory, and responses are never compressed (the client checks sizes).
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from core.byteranges import file_response, parse_range
from core.errors import ContentUnavailable
from gating.policy import Action, check_download
from gating.repo_views import RepoView
from registry import services
from registry.git import trees
from registry.git.paths import validate_path
from registry.selectors import (
    counts_as_download,
    entry_sha256,
    find_file,
    revision_candidates,
    split_revision_path,
)
from registry.storage import content, get_storage
from registry.storage.redirects import signed_redirect

logger = logging.getLogger(__name__)


class ResolveView(RepoView):
    repo_actions = {"GET": Action.DOWNLOAD, "HEAD": Action.DOWNLOAD}

    def revision_candidates(self, kwargs) -> list[str] | None:
        return revision_candidates(kwargs["rest"], path_required=True)

    def get(self, request, namespace, name, rest, repo_type=None):
        resolved, path = split_revision_path(self.repo, rest, path_required=True, hint=self.access.revision_hint)
        validate_path(path)
        decision = check_download(self.access, resolved, path)
        entry = find_file(resolved, path)
        content.require_in_repo(self.repo.pk, entry_sha256(entry))
        size = entry["size"]
        filename = path.rsplit("/", 1)[-1]
        # SECURITY: a file served because of who the caller is (a role, a grant, an acknowledged
        # license) is `private`, so no shared cache keeps it for the next caller.
        is_shared = not decision.depends_on_caller
        headers = {
            "X-Repo-Commit": resolved.commit_oid,
            "ETag": f'"{entry["oid"]}"',
            "Accept-Ranges": "bytes",
            # Never None: with as_attachment the header is at least "attachment".
            "Content-Disposition": content_disposition_header(True, filename) or "attachment",
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
        if is_first_byte and request.method == "GET" and counts_as_download(path, resolved.tree_oid):
            services.repo_downloads_increment(repo=self.repo)
        for key, value in headers.items():
            response[key] = value
        return response

    def _stream(self, entry: trees.Entry, byte_range: tuple[int, int] | None, size: int):
        sha256 = entry_sha256(entry)
        storage = get_storage()
        if not storage.exists(sha256):
            return _rebuilt(sha256, byte_range, size)
        return file_response(storage.open(sha256), byte_range, size)


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


class NamespacelessResolveView(RepoView):
    """/{id}/resolve/... for an id without a namespace (`gpt2`): the policy answers it as a
    missing repo (401/404 RepoNotFound), so `file_exists` is False rather than an HTML 404."""

    repo_actions = {"GET": Action.VIEW, "HEAD": Action.VIEW}
