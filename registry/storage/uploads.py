"""LFS transfers: short-lived signed upload URLs, streamed single-part uploads, multipart uploads.

The Hub client sends no Authorization header (and none of our `header` values) to upload URLs,
so they carry a signature over (user, repo, oid, size, purpose) with an expiry. Bytes are
streamed to a temporary file and hashed while they are written; the object becomes visible only
after its sha256 and size match what the batch call announced.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core import signing

from core.errors import BadRequest, Forbidden, NotFound
from registry.storage import COPY_CHUNK, RECEIVE_CHUNK, SHA256_RE, IntegrityError, get_storage

SALT = "gatehouse.lfs-upload"
PART_DIR_PREFIX = "mpu-"
PART_TOKEN_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class VerifiedUpload:
    """Bytes of `sha256` and `size` are published in the store, sent by `user_id` for `repo_id`.
    The storage layer only verifies and publishes; its caller records the upload for the repo
    (`registry.services.upload_record`)."""

    sha256: str
    size: int
    repo_id: int
    user_id: int


@dataclass(frozen=True)
class UploadGrant:
    user_id: int
    repo_id: int
    oid: str
    size: int
    upload_id: str = ""
    staging: str = ""  # S3 multipart: the random name of this upload's staging object

    def sign(self) -> str:
        data = {"u": self.user_id, "r": self.repo_id, "o": self.oid, "s": self.size, "m": self.upload_id}
        if self.staging:
            data["k"] = self.staging
        return signing.dumps(data, salt=SALT)

    @classmethod
    def verify(cls, token: str | None, *, oid: str) -> UploadGrant:
        """SECURITY: forged, tampered and expired URLs are all refused before any byte is read."""
        try:
            data = signing.loads(token or "", salt=SALT, max_age=settings.GATEHOUSE_UPLOAD_URL_TTL)
        except signing.SignatureExpired as exc:
            raise Forbidden("This upload URL has expired; ask the batch endpoint for a new one.") from exc
        except signing.BadSignature as exc:
            raise Forbidden("Invalid upload URL signature.") from exc
        if data.get("o") != oid:
            raise Forbidden("Invalid upload URL signature.")
        return cls(
            user_id=data["u"],
            repo_id=data["r"],
            oid=data["o"],
            size=data["s"],
            upload_id=data["m"],
            staging=data.get("k", ""),
        )

    def verified(self) -> VerifiedUpload:
        return VerifiedUpload(sha256=self.oid, size=self.size, repo_id=self.repo_id, user_id=self.user_id)


def new_upload_id() -> str:
    return secrets.token_hex(16)


def receive_single(grant: UploadGrant, stream, content_length: int | None) -> VerifiedUpload:
    """Stream a whole object from `stream`; verify size and sha256; publish it. The caller records it."""
    if content_length is not None and content_length != grant.size:
        raise BadRequest(f"Content-Length {content_length} does not match the announced size {grant.size}.")
    storage = get_storage()
    with storage.writer(expected_sha256=grant.oid, expected_size=grant.size) as writer:
        writer.write_from(stream, grant.size)
        writer.commit()
    return grant.verified()


def part_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def _part_dir(upload_id: str) -> Path:
    if not upload_id or not all(ch in "0123456789abcdef" for ch in upload_id):
        raise BadRequest("Invalid upload id.")
    return get_storage().tmp_dir / f"{PART_DIR_PREFIX}{upload_id}"


def multipart_start() -> str:
    """A new multipart upload's id. Its part folder is made now: completion removes it, so a part
    that arrives after completion finds no upload instead of starting an orphan one."""
    upload_id = new_upload_id()
    _part_dir(upload_id).mkdir(parents=True)
    return upload_id


def receive_part(grant: UploadGrant, number: int, stream, content_length: int | None) -> str:
    """Store one part of a multipart upload; returns its ETag, a token naming this very part file
    (`part-N-<token>`, renamed into place whole), which completion must send back.

    Parts are scratch data: neither hashed nor fsynced here, they stay in the page cache until
    `complete_multipart` reads them once to hash and write the object, which is durable. A crash
    may lose or damage acknowledged parts; completion then finds them missing or the object's
    sha256 wrong, and the client uploads again. Hashing and syncing every part as well cost a
    second pass over the disk and the CPU."""
    chunk = settings.GATEHOUSE_LFS_CHUNK_SIZE
    total = part_count(grant.size, chunk)
    if not 1 <= number <= total:
        raise BadRequest(f"Part number must be between 1 and {total}.")
    expected = min(chunk, grant.size - (number - 1) * chunk)
    if content_length is not None and content_length != expected:
        raise BadRequest(f"Part {number} must be {expected} bytes, not {content_length}.")
    folder = _part_dir(grant.upload_id)
    token = secrets.token_hex(16)
    tmp = folder / f"part-{number}.tmp-{token}"
    try:
        with open(tmp, "wb") as handle:
            received = _copy(stream, handle, expected)
        if received != expected:
            raise BadRequest(f"Part {number} was cut short: received {received} of {expected} bytes.")
        if content_length is None and _copy(stream, io.BytesIO(), 1):
            raise BadRequest(f"Part {number} is longer than its {expected} bytes.")
        os.replace(tmp, folder / f"part-{number}-{token}")
    except FileNotFoundError as exc:  # no such upload, or completion removed it meanwhile
        tmp.unlink(missing_ok=True)
        raise NotFound("Unknown or finished multipart upload.") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return f'"{token}"'


def _copy(stream, handle, size: int) -> int:
    """Copy up to `size` bytes from `stream` to the file `handle`; how many arrived. Straight
    into one reused buffer where the stream has `readinto` (`core.socketbody.SocketBody`)."""
    received = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        buffer = memoryview(bytearray(min(RECEIVE_CHUNK, size)))
        while received < size and (count := readinto(buffer[: min(len(buffer), size - received)])):
            handle.write(buffer[:count])
            received += count
        return received
    while received < size and (data := stream.read(min(COPY_CHUNK, size - received))):
        handle.write(data)
        received += len(data)
    return received


def _part_file(folder: Path, part: dict) -> Path:
    """The file a completion entry names: its part number and the ETag that part's PUT returned."""
    token = str(part.get("etag", "")).strip('"')
    path = folder / f"part-{part['partNumber']}-{token}"
    if not PART_TOKEN_RE.fullmatch(token) or not path.is_file():
        raise BadRequest(f"Part {part['partNumber']} is missing or its ETag does not match.")
    return path


def complete_multipart(
    grant: UploadGrant, parts: list[dict], *, on_published: Callable[[VerifiedUpload], None] = lambda verified: None
) -> VerifiedUpload:
    """Assemble the parts in order, hashing as they are copied, then publish the object and call
    `on_published` (which records it for the repo) before the parts are removed: a process killed
    between the publish and the record leaves the parts, so the client's retry of the completion
    assembles and records the upload again instead of finding it unknown."""
    chunk = settings.GATEHOUSE_LFS_CHUNK_SIZE
    total = part_count(grant.size, chunk)
    folder = _part_dir(grant.upload_id)
    if not folder.is_dir():
        raise NotFound("Unknown or finished multipart upload.")
    numbers = [part.get("partNumber") if isinstance(part, dict) else None for part in parts]
    if [number if type(number) is int else None for number in numbers] != list(range(1, total + 1)):
        raise BadRequest(f"Expected parts 1..{total} in order.")
    files = [_part_file(folder, part) for part in parts]
    storage = get_storage()
    try:
        with storage.writer(expected_sha256=grant.oid, expected_size=grant.size) as writer:
            for path in files:
                with open(path, "rb") as handle:
                    writer.write_from(handle)
            writer.commit()
    except FileNotFoundError as exc:  # a completion of the same upload finished first
        raise NotFound("Unknown or finished multipart upload.") from exc
    except IntegrityError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    verified = grant.verified()
    on_published(verified)
    shutil.rmtree(folder, ignore_errors=True)
    return verified


def validate_oid(oid) -> str:
    if not isinstance(oid, str) or not SHA256_RE.match(oid):
        raise BadRequest("Invalid LFS object id: expected a sha256 in lowercase hex.")
    return oid
