"""LFS uploads straight to the object store (the S3 backend): the batch call hands out presigned
PUT URLs, or presigned part URLs of an S3 multipart upload plus the hub's completion route.

SECURITY: bytes land under a staging key of their own (per repo, uploader and sha256), never
under a content address: nothing is committable or visible before the hub has read them back
and hashed them itself (S3's checksums are per part, not a sha256 of the object). Only then are
they copied to their content address, and the caller records them for the repo. Each URL signs
its `Content-Length` (the declared size, or the part's), so the store refuses a body of any other
size: a client cannot store more than it declared. A lying client gets a 400 and its staged bytes
are deleted; staging objects and multipart uploads nobody completed are removed by `gc_blobs`
after the grace period.

A single PUT's URL can write its staging key until it expires, so `verify_staged` (the LFS
verify call) hashes a server-side snapshot the client has no URL for. A multipart upload is
staged under a key with a random name of its own (`staging_key_for`), and the hub completes it
itself: from then on no URL can write that key (the part URLs name the finished upload id,
which the store refuses), so `complete_multipart` hashes it where it is, no snapshot, while the
store copies it into a multipart upload at the content address that is completed only if the
hash matched (`_publish_frozen`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError
from django.conf import settings

from core.errors import BadRequest, NotFound
from registry.storage import IntegrityError, get_storage, uploads
from registry.storage.s3storage import MULTIPART_CHUNK, TRANSFER, S3Storage, _reaching_store

# S3 refuses parts under 5 MiB (but the last): smaller configured parts are raised to this.
MIN_PART = 5 * 1024 * 1024
READ_PIECE = 8 * 1024 * 1024


def _store() -> S3Storage:
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    return storage


def staging_key(storage: S3Storage, *, repo_id: int, user_id: int, oid: str) -> str:
    return f"{storage.prefix}uploads/{repo_id}/{user_id}/{oid}"


def staging_key_for(storage: S3Storage, grant: uploads.UploadGrant) -> str:
    """The staging key of one multipart upload: a sibling of the single PUT's key (SeaweedFS keeps
    keys as filer paths, where a file and a folder cannot share a name)."""
    return f"{staging_key(storage, repo_id=grant.repo_id, user_id=grant.user_id, oid=grant.oid)}.{grant.staging}"


def part_size() -> int:
    return max(settings.GATEHOUSE_LFS_CHUNK_SIZE, MIN_PART)


def upload_origin() -> str:
    """The scheme and host the presigned upload URLs point at (the bucket's, virtual-hosted or
    path-style, public endpoint or not): the upload page lets its script connect there (CSP).
    Signing is local: no request reaches the store."""
    storage = _store()
    url = storage.presign_client.generate_presigned_url(
        "put_object", Params={"Bucket": storage.bucket, "Key": f"{storage.prefix}uploads/origin"}, ExpiresIn=1
    )
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upload_action(request, *, repo_id: int, user_id: int, oid: str, size: int, multipart: bool) -> dict:
    """The batch answer's `upload` action for one object."""
    storage = _store()
    ttl = settings.GATEHOUSE_UPLOAD_URL_TTL
    sign = storage.presign_client.generate_presigned_url
    if not multipart:
        key = staging_key(storage, repo_id=repo_id, user_id=user_id, oid=oid)
        params = {"Bucket": storage.bucket, "Key": key, "ContentLength": size}
        return {"href": sign("put_object", Params=params, ExpiresIn=ttl), "expires_in": ttl}
    grant = uploads.UploadGrant(user_id=user_id, repo_id=repo_id, oid=oid, size=size, staging=secrets.token_hex(16))
    key = staging_key_for(storage, grant)
    with _reaching_store():
        upload_id = storage.client.create_multipart_upload(
            Bucket=storage.bucket, Key=key, ContentType="application/octet-stream"
        )["UploadId"]
    grant = dataclasses.replace(grant, upload_id=upload_id)
    chunk = part_size()
    header = {"chunk_size": str(chunk)}
    for number in range(1, uploads.part_count(size, chunk) + 1):
        length = min(chunk, size - (number - 1) * chunk)
        params = {
            "Bucket": storage.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": length,
        }
        header[str(number)] = sign("upload_part", Params=params, ExpiresIn=ttl)
    complete = request.build_absolute_uri(f"/lfs/objects/{oid}/complete?sig={quote(grant.sign())}")
    return {"href": complete, "header": header, "expires_in": ttl}


def complete_multipart(grant: uploads.UploadGrant, parts: list[dict]) -> uploads.VerifiedUpload:
    """Complete the store's multipart upload with the parts the client reports, then verify.
    The caller records the upload."""
    storage = _store()
    chunk = part_size()
    total = uploads.part_count(grant.size, chunk)
    numbers = [part.get("partNumber") if isinstance(part, dict) else None for part in parts]
    if numbers != list(range(1, total + 1)):  # every entry an object naming its part, in order
        raise BadRequest(f"Expected parts 1..{total} in order.")
    listed = [{"PartNumber": part["partNumber"], "ETag": str(part.get("etag", ""))} for part in parts]
    if grant.staging:
        key = staging_key_for(storage, grant)
    else:  # signed before multipart uploads had keys of their own: the single PUT's, hashed as a snapshot
        key = staging_key(storage, repo_id=grant.repo_id, user_id=grant.user_id, oid=grant.oid)
    try:
        with _reaching_store():
            storage.client.complete_multipart_upload(
                Bucket=storage.bucket, Key=key, UploadId=grant.upload_id, MultipartUpload={"Parts": listed}
            )
    except storage.client.exceptions.NoSuchUpload as exc:
        raise NotFound("Unknown or finished multipart upload.") from exc
    except storage.client.exceptions.ClientError as exc:
        raise BadRequest(f"The store refused the parts: {exc.response['Error'].get('Message', '')}") from exc
    if not grant.staging:
        stored = verify_staged(repo_id=grant.repo_id, user_id=grant.user_id, oid=grant.oid, size=grant.size)
        if stored is None:
            raise NotFound("Unknown or finished multipart upload.")
        return stored
    _publish_frozen(storage, key, oid=grant.oid, size=grant.size)
    return grant.verified()


def _publish_frozen(storage: S3Storage, key: str, *, oid: str, size: int) -> None:
    """Publish the object at `key` under its content address if it is `oid` of `size`; drop it
    either way. SECURITY: no URL can write `key` any more (see the module's docstring), and every
    read and copy of it is conditional on the ETag seen first, so a change (if the store broke
    that promise) fails them instead of publishing unhashed bytes. The copy runs while the hub
    hashes, into a multipart upload at the content address that only a matching hash completes:
    until then the content address shows nothing."""
    client, bucket = storage.client, storage.bucket
    upload_id = ""
    try:
        etag = _etag_of_size(storage, key, size)
        target = "" if storage.exists(oid) else storage.key_for(oid)
        if target:
            with _reaching_store():
                upload_id = client.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
        stop = threading.Event()
        with _changed_is_refused(), ThreadPoolExecutor(max_workers=1) as pool:
            copying = pool.submit(_copy_parts, storage, key, etag, target, upload_id, size, stop) if target else None
            try:
                matches = _sha256_of(storage, key, etag, size) == oid
            except BaseException:
                stop.set()
                raise
            if not matches:
                stop.set()
                raise IntegrityError("Content does not match the announced sha256.")
            parts = copying.result() if copying else []
        if upload_id:
            with _reaching_store():
                client.complete_multipart_upload(
                    Bucket=bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            upload_id = ""
    finally:
        if upload_id:  # nothing published: the copy is thrown away
            with _reaching_store():
                client.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id)
        _drop(storage, key)


def _etag_of_size(storage: S3Storage, key: str, size: int) -> str:
    """The staged object's ETag; IntegrityError if it is not of `size`, NotFound if it is gone (a
    completion sent again after the first one published or refused it)."""
    try:
        with _reaching_store():
            staged = storage.head_client.head_object(Bucket=storage.bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            raise NotFound("Unknown or finished multipart upload.") from exc
        raise
    if int(staged["ContentLength"]) != size:
        raise IntegrityError(f"Size mismatch: expected {size} bytes, received {staged['ContentLength']}.")
    return str(staged["ETag"])


@contextmanager
def _changed_is_refused() -> Iterator[None]:
    """A read or copy whose ETag condition failed: the object changed under the hub."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412:
            raise IntegrityError("The staged object changed while it was verified.") from exc
        raise


def _sha256_of(storage: S3Storage, key: str, etag: str, size: int) -> str:
    """One GET (measured faster here than concurrent ranged GETs), hashed as it streams; a body of
    any other length than `size` hashes to nothing."""
    digest = hashlib.sha256()
    received = 0
    with _reaching_store():
        body = storage.client.get_object(Bucket=storage.bucket, Key=key, IfMatch=etag)["Body"]
        while piece := body.read(READ_PIECE):
            digest.update(piece)
            received += len(piece)
    return digest.hexdigest() if received == size else ""


def _copy_parts(
    storage: S3Storage, key: str, etag: str, target: str, upload_id: str, size: int, stop: threading.Event
) -> list[dict]:
    """UploadPartCopy of `key` into the upload `upload_id` at `target`, part by part, until done or
    `stop` is set (a hash that did not match)."""
    parts = []
    for number, first in enumerate(range(0, size, MULTIPART_CHUNK), 1):
        if stop.is_set():
            break
        last = min(first + MULTIPART_CHUNK, size) - 1
        with _reaching_store():
            answer = storage.client.upload_part_copy(
                Bucket=storage.bucket,
                Key=target,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": storage.bucket, "Key": key},
                CopySourceRange=f"bytes={first}-{last}",
                CopySourceIfMatch=etag,
            )
        parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
    return parts


def verify_staged(*, repo_id: int, user_id: int, oid: str, size: int) -> uploads.VerifiedUpload | None:
    """Hash what the client staged for (repo, user, oid); publish it if it is `oid` of `size`.
    None if nothing is staged; IntegrityError (and the staged bytes gone) if it is not. The
    caller records what this returns."""
    storage = _store()
    key = staging_key(storage, repo_id=repo_id, user_id=user_id, oid=oid)
    client, bucket = storage.client, storage.bucket
    try:
        with _reaching_store():
            staged = storage.head_client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    if int(staged["ContentLength"]) != size:
        _drop(storage, key)
        raise IntegrityError(f"Size mismatch: expected {size} bytes, received {staged['ContentLength']}.")
    # SECURITY: the client holds a URL for the staging key until it expires and could replace the
    # bytes between our read and our copy. Hash a snapshot it has no URL for, and publish that.
    snapshot = f"{storage.prefix}verifying/{secrets.token_hex(16)}"
    try:
        with _reaching_store():
            client.copy({"Bucket": bucket, "Key": key}, bucket, snapshot, Config=TRANSFER)
        _drop(storage, key)
        digest = hashlib.sha256()
        received = 0
        with _reaching_store():
            body = client.get_object(Bucket=bucket, Key=snapshot)["Body"]
            while piece := body.read(READ_PIECE):
                digest.update(piece)
                received += len(piece)
        if received != size or digest.hexdigest() != oid:
            raise IntegrityError("Content does not match the announced sha256.")
        if not storage.exists(oid):
            with _reaching_store():
                client.copy({"Bucket": bucket, "Key": snapshot}, bucket, storage.key_for(oid), Config=TRANSFER)
    finally:
        _drop(storage, snapshot)
    return uploads.VerifiedUpload(sha256=oid, size=size, repo_id=repo_id, user_id=user_id)


def _drop(storage: S3Storage, key: str) -> None:
    with _reaching_store():
        storage.client.delete_object(Bucket=storage.bucket, Key=key)
