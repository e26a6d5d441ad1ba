"""LFS uploads straight to the object store (the S3 backend): the batch call hands out presigned
PUT URLs, or presigned part URLs of an S3 multipart upload plus the hub's completion route.

SECURITY: bytes land under a staging key of their own (per repo, uploader and sha256), never
under a content address: nothing is committable or visible before the hub has read them back
and hashed them itself (S3's checksums are per part, not a sha256 of the object). Only then are
they copied to their content address (`verify_staged`, run by the LFS verify call and by the
multipart completion), and the caller records them for the repo. Each URL signs its `Content-Length` (the declared
size, or the part's), so the store refuses a body of any other size: a client cannot store more
than it declared. A lying client gets a 400 and its staged bytes are deleted; staging objects and
multipart uploads nobody completed are removed by `gc_blobs` after the grace period.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import quote, urlsplit

from django.conf import settings

from core.errors import BadRequest, NotFound
from registry.storage import IntegrityError, get_storage, uploads
from registry.storage.s3storage import TRANSFER, S3Storage, _reaching_store

# S3 refuses parts under 5 MiB (but the last): smaller configured parts are raised to this.
MIN_PART = 5 * 1024 * 1024
READ_PIECE = 8 * 1024 * 1024


def _store() -> S3Storage:
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    return storage


def staging_key(storage: S3Storage, *, repo_id: int, user_id: int, oid: str) -> str:
    return f"{storage.prefix}uploads/{repo_id}/{user_id}/{oid}"


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
    key = staging_key(storage, repo_id=repo_id, user_id=user_id, oid=oid)
    ttl = settings.GATEHOUSE_UPLOAD_URL_TTL
    sign = storage.presign_client.generate_presigned_url
    if not multipart:
        params = {"Bucket": storage.bucket, "Key": key, "ContentLength": size}
        return {"href": sign("put_object", Params=params, ExpiresIn=ttl), "expires_in": ttl}
    with _reaching_store():
        upload_id = storage.client.create_multipart_upload(
            Bucket=storage.bucket, Key=key, ContentType="application/octet-stream"
        )["UploadId"]
    grant = uploads.UploadGrant(user_id=user_id, repo_id=repo_id, oid=oid, size=size, upload_id=upload_id)
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
    stored = verify_staged(repo_id=grant.repo_id, user_id=grant.user_id, oid=grant.oid, size=grant.size)
    if stored is None:
        raise NotFound("Unknown or finished multipart upload.")
    return stored


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
