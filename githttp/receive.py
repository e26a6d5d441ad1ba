"""git push (receive-pack, protocol v0/v1) under the commit API's rules.

The request is the ref updates (`old new ref`, pkt-lines) then a pack. The body is spooled to a
temporary file within `GATEHOUSE_GIT_MAX_PUSH_BYTES`; the pack is read within bounds
(`registry.git.packs`: object count, inflated sizes, time) into a request-local set of verified
objects, which nothing persists until a ref passes (a refused push leaves no rows). Then each
ref update, in order, is decided by the policy (`check_push`: writers on branches and tags,
contributors on their own `refs/pr/N`) and applied by `registry.services.gitpush` in its own
transaction. Refusals reach git as `ng <ref> <reason>` (shown as `! [remote rejected] ...`) and,
in full, as sideband text (`remote: ...`).
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from dulwich.protocol import (
    CAPABILITY_DELETE_REFS,
    CAPABILITY_OFS_DELTA,
    CAPABILITY_QUIET,
    CAPABILITY_REPORT_STATUS,
    CAPABILITY_SIDE_BAND_64K,
)
from dulwich.server import ReceivePackHandler

from core.errors import BadRequest, HubError
from gating.policy import CommitTarget, check_push
from githttp import bodies
from registry.git import packs
from registry.git.held import HeldObjects
from registry.services import gitpush

RECEIVE_PACK = "git-receive-pack"
ZERO = "0" * 40
MAX_COMMANDS = 1000
MAX_OBJECT_BYTES = 32 * 1024 * 1024  # one object inflated: regular files stop at 10 MiB, trees are smaller


class RegistryReceivePackHandler(ReceivePackHandler):
    """Only for the ref advertisement: the capabilities this module implements (no `atomic`,
    no `push-options`)."""

    def capabilities(self) -> list[bytes]:
        return [
            CAPABILITY_REPORT_STATUS,
            CAPABILITY_DELETE_REFS,
            CAPABILITY_QUIET,
            CAPABILITY_OFS_DELTA,
            CAPABILITY_SIDE_BAND_64K,
            b"object-format=sha1",
        ]


@dataclass(frozen=True)
class RefUpdate:
    ref_name: str
    old_oid: str | None
    new_oid: str | None


def read_commands(body) -> tuple[list[RefUpdate], set[str]]:
    """The ref updates and the client's capabilities, up to the flush-pkt; `body` is left at the pack."""
    updates: list[RefUpdate] = []
    capabilities: set[str] = set()
    while True:
        head = body.read(4)
        try:
            size = int(head, 16)
        except ValueError:
            raise BadRequest("Malformed pkt-line in the push request.") from None
        if size == 0:
            break
        if size < 4 or size > bodies.MAX_PKT_LINE + 4:
            raise BadRequest("Malformed pkt-line in the push request.")
        line = body.read(size - 4)
        if not updates:
            line, _, caps = line.partition(b"\0")
            capabilities = set(caps.decode("ascii", "replace").split())
        parts = line.rstrip(b"\n").decode("utf-8", "replace").split(" ")
        if len(parts) != 3 or not all(len(oid) == 40 for oid in parts[:2]):
            raise BadRequest("Malformed ref update in the push request (shallow pushes are not supported).")
        old, new, name = parts
        updates.append(RefUpdate(name, None if old == ZERO else old.lower(), None if new == ZERO else new.lower()))
        if len(updates) > MAX_COMMANDS:
            raise BadRequest(f"A push may update at most {MAX_COMMANDS} refs.")
    return updates, capabilities


def read_objects(body, repo_pk: int) -> dict[str, packs.PackObject]:
    """The pack after the commands, bounded and verified; deltas only against this repo's objects."""
    with tempfile.SpooledTemporaryFile(max_size=bodies.SPOOL_IN_MEMORY) as pack:
        while chunk := body.read(bodies.COPY_CHUNK):
            pack.write(chunk)
        bounds = packs.PackBounds(
            max_objects=settings.GATEHOUSE_GIT_MAX_PUSH_OBJECTS,
            max_object_bytes=MAX_OBJECT_BYTES,
            max_inflated=settings.GATEHOUSE_GIT_MAX_PUSH_BYTES,
            seconds=settings.GATEHOUSE_GIT_PUSH_SECONDS,
        )
        return packs.read_pack(pack, bounds, HeldObjects(repo_pk).raw)


def push_target(ref_name: str) -> CommitTarget:
    """What the policy judges for a pushed ref: a branch or pull request as the commit API names
    them, a tag by its ref (written as branches are)."""
    if ref_name.startswith("refs/tags/"):
        return CommitTarget(branch=None, ref_name=ref_name, create_pr=False)
    return CommitTarget.parse(ref_name, create_pr=False)


def apply_update(view, update: RefUpdate, objects: dict[str, packs.PackObject]) -> None:
    """One ref update: the policy's decision, then the service's write. Raises HubError to refuse."""
    access, user, repo = view.access, view.request.user, view.repo
    name = update.ref_name
    if name.startswith("refs/tags/"):
        rights = check_push(access, push_target(name))
        pushed = objects.get(update.new_oid or "")
        if pushed is not None and pushed.kind == packs.TAG:
            raise BadRequest("annotated tags are not supported: push a lightweight tag (`git tag NAME`)")
        tag = name.removeprefix("refs/tags/")
        gitpush.tag_push(
            repo=repo,
            tag=tag,
            old_oid=update.old_oid,
            new_oid=update.new_oid,
            author=user,
            may_rewrite=rights.may_rewrite,
        )
        return
    if not name.startswith(("refs/heads/", "refs/pr/")):
        raise BadRequest("only branches (refs/heads/...), tags and pull requests (refs/pr/N) can be pushed")
    rights = check_push(access, push_target(name))
    is_pull_request = name.startswith("refs/pr/")
    if update.new_oid is None:
        if is_pull_request or update.old_oid is None:
            raise BadRequest("a pull request's ref cannot be deleted: close the pull request instead")
        gitpush.branch_push_delete(repo=repo, branch=name.removeprefix("refs/heads/"), old_oid=update.old_oid)
        return
    stager = gitpush.PushStager(repo=repo, objects=objects, proof_from=None if rights.is_writer else user)
    gitpush.ref_push(
        repo=repo,
        stager=stager,
        ref_name=name,
        old_oid=update.old_oid,
        new_oid=update.new_oid,
        author=user,
        may_rewrite=rights.may_rewrite,
    )


_PACK_READER = threading.BoundedSemaphore(1)
PACK_READER_WAIT = 120.0  # seconds a push waits for the one before it


def push(view, body) -> HttpResponse:
    updates, capabilities = read_commands(body)
    statuses: list[tuple[str, str]] = []
    messages: list[str] = []
    unpack = "ok"
    # SECURITY: decided before a byte of the pack is inflated (see `authorize_whole_repo`): a
    # caller who could not clone the repo, or may move none of the refs named, is refused whole.
    refusals = _refusals_before_pack(view, updates)
    # A pack's regular files are held inflated until the refs land (up to GATEHOUSE_GIT_MAX_PUSH_BYTES):
    # one push at a time per process, so concurrent pushes cannot multiply that.
    if not _PACK_READER.acquire(timeout=PACK_READER_WAIT):
        busy = "the server is receiving other pushes: try again in a moment"
        return HttpResponse(
            report("busy", [(update.ref_name, busy) for update in updates], [f"Push refused: {busy}."], sideband=False),
            content_type=f"application/x-{RECEIVE_PACK}-result",
        )
    try:
        objects: dict[str, packs.PackObject] = {}
        if any(update.new_oid for update in updates) and len(refusals) < len(updates):
            try:
                objects = read_objects(body, view.repo.pk)
            except packs.PackRefused as exc:
                unpack = _one_line(str(exc))
                messages.append(f"Push refused: {unpack}.")
        for update in updates:
            if update.ref_name in refusals:
                statuses.append((update.ref_name, refusals[update.ref_name]))
                messages.append(f"{update.ref_name}: {refusals[update.ref_name]}")
                continue
            if unpack != "ok":
                statuses.append((update.ref_name, "unpacker error"))
                continue
            try:
                apply_update(view, update, objects)
            except HubError as exc:
                reason = _one_line(exc.message)
                statuses.append((update.ref_name, reason))
                messages.append(f"{update.ref_name}: {reason}")
            else:
                statuses.append((update.ref_name, "ok"))
    finally:
        _PACK_READER.release()
    return HttpResponse(
        report(unpack, statuses, messages, sideband=CAPABILITY_SIDE_BAND_64K.decode() in capabilities),
        content_type=f"application/x-{RECEIVE_PACK}-result",
    )


def _refusals_before_pack(view, updates: list[RefUpdate]) -> dict[str, str]:
    """The reason each ref update is refused by the policy alone (`apply_update` decides again
    with the objects): every one when the caller could not clone the repo."""
    try:
        view.authorize_whole_repo()
    except HubError as exc:
        return {update.ref_name: _one_line(exc.message) for update in updates}
    refusals = {}
    for update in updates:
        name = update.ref_name
        try:
            if name.startswith(("refs/tags/", "refs/heads/", "refs/pr/")):
                check_push(view.access, push_target(name))
        except HubError as exc:
            refusals[name] = _one_line(exc.message)
    return refusals


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1000]


def _pkt(data: bytes | None) -> bytes:
    return b"0000" if data is None else b"%04x" % (len(data) + 4) + data


def report(unpack: str, statuses: list[tuple[str, str]], messages: list[str], *, sideband: bool) -> bytes:
    """report-status pkt-lines; with side-band-64k, inside channel 1, messages on channel 2."""
    lines = [f"unpack {unpack}\n".encode()]
    for ref_name, status in statuses:
        lines.append(f"ok {ref_name}\n".encode() if status == "ok" else f"ng {ref_name} {status}\n".encode())
    status_bytes = b"".join(_pkt(line) for line in lines) + _pkt(None)
    if not sideband:
        return status_bytes
    out = []
    for message in messages:
        out.append(_pkt(b"\x02" + f"{message}\n".encode()[:65000]))
    for start in range(0, len(status_bytes), 65000):
        out.append(_pkt(b"\x01" + status_bytes[start : start + 65000]))
    out.append(_pkt(None))
    return b"".join(out)
