"""git over smart HTTP (protocol v0/v1): `info/refs` and `git-upload-pack`, served by dulwich
from the registry's rows (githttp.store), behind the same policy as every other route.

- GET  /{[datasets/]}{ns}/{name}[.git]/info/refs?service=git-upload-pack   refs (needs DOWNLOAD)
- POST /{[datasets/]}{ns}/{name}[.git]/git-upload-pack                     clone and fetch
- GET  .../info/refs?service=git-receive-pack, POST .../git-receive-pack    push (githttp.receive)

Authentication is HTTP Basic with any user name and a token as the password (or Bearer).
SECURITY: an anonymous caller of a private or missing repo gets the same 401 with
`WWW-Authenticate` (git sends credentials only after one); a signed-in stranger the same 404.
A clone is served only if the caller could `/resolve` every file it carries (policy.check_clone);
otherwise git prints the reason the API gives (`ERR` pkt-line: "fatal: remote error: ...").
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from typing import TypeVar

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from dulwich.errors import GitProtocolError, HangupException
from dulwich.protocol import CAPABILITY_FILTER, ReceivableProtocol
from dulwich.server import Backend, UploadPackHandler

from core import bodies as core_bodies
from core.errors import BadRequest, HubError
from gating.policy import Action, check, check_clone
from gating.repo_views import RepoView
from githttp import bodies, packcache, receive
from githttp.store import GitRepo, Refused
from registry.git import trees
from registry.selectors import Resolved

R = TypeVar("R", bound=HttpResponseBase)
UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a pack past this is spooled to a temporary file
STREAM_CHUNK = 256 * 1024
GIT_REQUEST = core_bodies.BodyPolicy(lambda: settings.GATEHOUSE_GIT_MAX_REQUEST_BYTES)
GIT_PUSH = core_bodies.BodyPolicy(lambda: settings.GATEHOUSE_GIT_MAX_PUSH_BYTES)


def pkt_line(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def git_error(message: str) -> HttpResponse:
    """git's own way to refuse an upload-pack: an `ERR` pkt-line, shown as "remote error: ..."."""
    text = " ".join(message.split())[: bodies.MAX_PKT_LINE - 8]
    response = HttpResponse(pkt_line(b"ERR " + text.encode()), content_type=f"application/x-{UPLOAD_PACK}-result")
    return _no_cache(response)


def _no_cache(response: R) -> R:
    response["Cache-Control"] = "private, no-cache, max-age=0, must-revalidate"
    response["Expires"] = "Fri, 01 Jan 1980 00:00:00 GMT"
    return response


class RegistryUploadPackHandler(UploadPackHandler):
    """dulwich's upload-pack without `filter`: a blob-less partial clone would fetch missing blobs
    later by id, which dulwich refuses (only ref tips may be wanted). git then clones in full."""

    def capabilities(self) -> list[bytes]:
        return [cap for cap in super().capabilities() if cap != CAPABILITY_FILTER]


class _Backend(Backend):
    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo

    def open_repository(self, path):
        return self.repo


class GitRepoView(RepoView):
    """Base of the git routes: Basic auth, and errors as git shows them (plain text; a 401 with
    `WWW-Authenticate`, or git never sends the credentials it has)."""

    accepts_basic_auth = True

    def error_response(self, exc: HubError):
        response = HttpResponse(exc.message + "\n", status=exc.status, content_type="text/plain; charset=utf-8")
        response["X-Error-Code"] = exc.code
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Basic realm="Gatehouse"'
        return _no_cache(response)

    def authorize(self, repo: GitRepo, wants: list[bytes], shallow: set[bytes]) -> None:
        """Before a byte of the pack: the policy over every revision asked for and the history
        the pack may carry (down to the shallow boundary)."""
        store = repo.store
        names: dict[str, list[str]] = {}
        for ref_name, ref_oid in repo.get_refs().items():
            if ref_name != b"HEAD":
                names.setdefault(ref_oid.decode(), []).append(ref_name.decode())
        revisions = []
        for want in wants:
            oid = want.decode()
            for name in names.get(oid, []):
                revisions.append(Resolved(revision=name, commit_oid=oid, tree_oid=store.tree_of(oid), ref=None))
        boundary = {sha.decode() for sha in shallow}
        history: list[Resolved] = []
        seen: set[str] = set()
        todo = [want.decode() for want in wants]
        while todo:
            oid = todo.pop()
            if oid in seen or oid not in store.commits():
                continue
            seen.add(oid)
            history.append(Resolved(revision=oid, commit_oid=oid, tree_oid=store.tree_of(oid), ref=None))
            if oid not in boundary:
                todo.extend(store.parents(oid))
        check_clone(self.access, revisions, history, lambda tree_oid: (path for path, _ in trees.iter_files(tree_oid)))

    def authorize_whole_repo(self) -> None:
        """What a full clone of every ref needs (`check(DOWNLOAD)`, then `authorize`): asked of a
        push before its pack is read. SECURITY: a pack's deltas may name any object the repo holds
        as their base and a push's trees may name held blobs, so whether a push is accepted tells
        what those objects hold; only a caller who could clone them all may push (git pushes from
        a clone anyway), and nobody else's pack is inflated at all."""
        check(self.access, Action.DOWNLOAD)
        repo = GitRepo(self.repo)
        tips: list[bytes] = [bytes(oid) for name, oid in repo.get_refs().items() if name != b"HEAD"]
        self.authorize(repo, tips, set())


class InfoRefsView(GitRepoView):
    """The ref advertisement. Fetching needs DOWNLOAD (a gated repo asks for access here, where
    git shows the message); the push advertisement needs a signed-in caller with a write token
    (which refs they may move is decided per ref, when they push)."""

    @property
    def repo_actions(self) -> dict[str, Action]:  # type: ignore[override]
        service = self.request.GET.get("service")
        return {"GET": Action.PUSH if service == RECEIVE_PACK else Action.DOWNLOAD}

    def get(self, request, **kwargs):
        service = request.GET.get("service")
        if service not in (UPLOAD_PACK, RECEIVE_PACK):
            raise BadRequest("Only git's smart HTTP protocol is served: please use git 1.6.6 or later.")
        out = io.BytesIO()
        proto = ReceivableProtocol(io.BytesIO().read, out.write)
        if service == RECEIVE_PACK:
            self.authorize_whole_repo()  # its refs are what `ls-remote` shows: the same rule
        handler_class = receive.RegistryReceivePackHandler if service == RECEIVE_PACK else RegistryUploadPackHandler
        handler = handler_class(_Backend(GitRepo(self.repo)), ["/"], proto, stateless_rpc=True)
        handler.advertise_refs = True
        handler.handle()
        body = pkt_line(f"# service={service}\n".encode()) + b"0000" + out.getvalue()
        return _no_cache(HttpResponse(body, content_type=f"application/x-{service}-advertisement"))


class UploadPackView(GitRepoView):
    """Clone and fetch. The request is read whole (bounded), the pack built into a spooled file,
    then streamed: a refusal found while building it still reaches git as a clean `ERR`."""

    repo_actions = {"POST": Action.DOWNLOAD}
    body_policy = GIT_REQUEST

    def post(self, request, **kwargs):
        if request.content_type != f"application/x-{UPLOAD_PACK}-request":
            raise BadRequest(f"Expected Content-Type application/x-{UPLOAD_PACK}-request.")
        body = bodies.read_body(request, settings.GATEHOUSE_GIT_MAX_REQUEST_BYTES)
        bodies.check_negotiation(body)
        repo = GitRepo(self.repo, authorize=lambda wants, shallow: self.authorize(repo, wants, shallow))
        keyed = packcache.cache_key(body) if packcache.usable(self.repo) else None
        cached = packcache.lookup(self.repo.pk, keyed[0]) if keyed else None
        out = cached or tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by _stream
        try:
            if cached is not None and keyed is not None:
                self.authorize_cached(repo, keyed[1])  # the same checks as dulwich's and ours below
            else:
                proto = ReceivableProtocol(io.BytesIO(body).read, out.write)
                RegistryUploadPackHandler(_Backend(repo), ["/"], proto, stateless_rpc=True).handle()
        except HubError as exc:
            out.close()
            if exc.status == 401:
                raise  # an anonymous caller: git asks for credentials and tries again
            return git_error(exc.message)
        except Refused as exc:
            out.close()
            return git_error(str(exc))
        except (GitProtocolError, HangupException) as exc:
            out.close()
            return git_error(f"protocol error: {exc}")
        size = out.seek(0, io.SEEK_END)
        if cached is None and keyed is not None:
            out.seek(0)
            packcache.store(self.repo.pk, keyed[0], keyed[1], out)
        out.seek(0)
        response = StreamingHttpResponse(_stream(out), content_type=f"application/x-{UPLOAD_PACK}-result")
        response["Content-Length"] = str(size)
        return _no_cache(response)

    def authorize_cached(self, repo: GitRepo, wants: list[str]) -> None:
        """Before a cached response is sent: what dulwich checks (every want is a ref tip now)
        and what `authorize` checks, for this caller."""
        tips = {oid.decode() for name, oid in repo.get_refs().items() if name != b"HEAD"}
        if not set(wants) <= tips:
            raise Refused("protocol error: the client wants an object that is not a ref tip")
        self.authorize(repo, [want.encode() for want in wants], set())


def _stream(handle) -> Iterator[bytes]:
    try:
        while chunk := handle.read(STREAM_CHUNK):
            yield chunk
    finally:
        handle.close()


class ReceivePackView(GitRepoView):
    """git push: see githttp.receive. PARTICIPATE lets a contributor reach their pull request's
    ref; every ref is then decided by `check_push` as for the commit API."""

    repo_actions = {"POST": Action.PUSH}
    body_policy = GIT_PUSH

    def post(self, request, **kwargs):
        if request.content_type != f"application/x-{RECEIVE_PACK}-request":
            raise BadRequest(f"Expected Content-Type application/x-{RECEIVE_PACK}-request.")
        with bodies.spool_body(request, settings.GATEHOUSE_GIT_MAX_PUSH_BYTES) as body:
            return _no_cache(receive.push(self, body))
