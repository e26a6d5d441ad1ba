"""Receiving Xet uploads: xorbs (verified chunk by chunk) and shards (verified term by term).

SECURITY: nothing a client claims is taken on trust. A xorb is stored only if its chunks
decompress to their declared sizes and hash to the xorb hash in the URL. A shard's files must
hash, term by term and as a whole, to what the server computes from its own chunk index. The
sha256 a shard declares for a file (the commit's `lfsFile` oid) cannot be derived from the chunk
hashes, so a new file is rebuilt and hashed before it is registered: otherwise a client could
claim the sha256 of someone else's gated file and commit it into a repo of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core import faults
from core.errors import BadRequest, NotFound, PayloadTooLarge
from registry import services as registry_services
from registry.models import Repo, StoredObject
from registry.storage import get_xet_shard_storage, get_xet_storage
from xet import format, reconstruction
from xet.models import XetFile, XetShard, XetUpload, Xorb


class BadXetData(BadRequest):
    code = "BadXetData"


def xorb_store(*, xorb_hash: str, stream: BinaryIO, content_length: int | None) -> None:
    """Verify and store a xorb body read from `stream`.

    SECURITY: the same work and the same answer whether or not the xorb is already stored. The body
    is parsed, hashed and written out even for a known xorb (the storage writer then drops the
    copy): answering a known hash without reading a valid body made the route an existence oracle
    for any content's xorb, hence for gated files' chunks."""
    if content_length is not None and content_length > format.MAX_XORB_BYTES:
        raise PayloadTooLarge(f"A xorb may hold at most {format.MAX_XORB_BYTES} bytes.")
    # Touched first, as before: a collector sweeping it meanwhile keeps its grace period.
    Xorb.objects.filter(hash=xorb_hash).update(touched_at=timezone.now())
    chunks: list[format.XorbChunk] = []
    unpacked = 0
    with get_xet_storage().writer(key=xorb_hash, max_size=format.MAX_XORB_BYTES) as writer:
        try:
            for chunk, record, _raw in format.iter_xorb(stream):
                writer.write(record)
                chunks.append(chunk)
                unpacked += chunk.size
        except format.FormatError as exc:
            raise BadXetData(f"Invalid xorb: {exc}") from exc
        if not chunks:
            raise BadXetData("Invalid xorb: it holds no chunks.")
        computed = format.hash_to_string(format.merkle_root([(c.hash, c.size) for c in chunks]))
        if computed != xorb_hash:
            raise BadXetData(f"Invalid xorb: its content hashes to {computed}, not {xorb_hash}.")
        writer.commit()
    Xorb.objects.get_or_create(
        hash=xorb_hash,
        defaults={
            "size": writer.size,
            "n_chunks": len(chunks),
            "unpacked_size": unpacked,
            "index": format.chunk_index_pack(chunks),
        },
    )


@dataclass(frozen=True)
class VerifiedFile:
    hash: str
    size: int
    sha256: str
    terms: list[list]  # [[xorb, chunk start, chunk end, size], ...]


def shard_register(*, data: bytes, repo: Repo, user: User | None, by_writer: bool) -> int:
    """Verify a shard and make its files available to `repo` (to its sender alone, for their pull
    requests, unless `by_writer`: see `upload_receipt_record`). 1 if anything was new, else 0."""
    try:
        shard = format.parse_shard(data)
    except format.FormatError as exc:
        raise BadXetData(f"Invalid shard: {exc}") from exc
    files = [_verify_file(item) for item in shard.files if item.terms]
    if not files:
        raise BadXetData("Invalid shard: it registers no file.")
    if sum(item.size for item in files) > settings.GATEHOUSE_MAX_COMMIT_SIZE:
        raise BadXetData(f"A shard may register at most {settings.GATEHOUSE_MAX_COMMIT_SIZE} bytes of files.")
    known = {row.hash: row for row in XetFile.objects.filter(hash__in=[f.hash for f in files])}
    for item in files:
        if item.hash in known:
            if known[item.hash].sha256 != item.sha256:
                raise BadXetData(f"File {item.hash} is known with a different sha256 than {item.sha256}.")
        else:
            _check_sha256(item)
    shard_sha256 = get_xet_shard_storage().put_bytes(data)
    return _record(files, shard_sha256=shard_sha256, shard_size=len(data), repo=repo, user=user, by_writer=by_writer)


def _verify_file(item: format.ShardFile) -> VerifiedFile:
    name = format.hash_to_string(item.hash)
    if item.verification is None:
        raise BadXetData(f"Invalid shard: file {name} has no verification entries.")
    if item.sha256 is None:
        raise BadXetData(f"Invalid shard: file {name} does not declare its sha256.")
    # SECURITY: bounded before anything is expanded: terms may repeat, so a small shard could
    # otherwise name terabytes (and make the server rebuild them).
    declared = sum(term.size for term in item.terms)
    if declared > settings.GATEHOUSE_MAX_FILE_SIZE:
        raise BadXetData(
            f"File {name} is {declared} bytes; this hub accepts files up to {settings.GATEHOUSE_MAX_FILE_SIZE}."
        )
    all_chunks: list[tuple[bytes, int]] = []
    terms = []
    for term, verification in zip(item.terms, item.verification, strict=True):
        xorb = format.hash_to_string(term.xorb)
        # SECURITY: one answer whether the xorb is not stored or does not hold the term's chunks,
        # so a shard cannot probe which xorbs (which contents) the server holds.
        unknown = BadXetData(
            f"Invalid shard: a term of file {name} names chunks of xorb {xorb} that were never uploaded."
        )
        try:
            chunks = reconstruction.xorb_chunks(xorb)
        except NotFound as exc:
            raise unknown from exc
        if not 0 <= term.chunk_start < term.chunk_end <= len(chunks):
            raise unknown
        used = chunks[term.chunk_start : term.chunk_end]
        if sum(c.size for c in used) != term.size:
            raise unknown
        if format.verification_hash([c.hash for c in used]) != verification:
            raise unknown
        all_chunks.extend((c.hash, c.size) for c in used)
        terms.append([xorb, term.chunk_start, term.chunk_end, term.size])
    if format.file_hash(all_chunks) != item.hash:
        raise BadXetData(f"Invalid shard: file {name} does not hash to its declared hash.")
    return VerifiedFile(name, sum(size for _, size in all_chunks), item.sha256, terms)


def _check_sha256(item: VerifiedFile) -> None:
    digest = hashlib.sha256()
    try:
        for piece in reconstruction.iter_terms(item.terms, 0, item.size):
            digest.update(piece)
    except (OSError, NotFound) as exc:  # a xorb collected since the shard was checked
        raise BadXetData(f"A xorb of file {item.hash} is no longer stored; upload it again.") from exc
    if digest.hexdigest() != item.sha256:
        raise BadXetData(f"Invalid shard: file {item.hash} does not have the sha256 {item.sha256} it declares.")


@transaction.atomic
def _record(
    files: list[VerifiedFile], *, shard_sha256: str, shard_size: int, repo: Repo, user: User | None, by_writer: bool
) -> int:
    now = timezone.now()
    xorbs = {term[0] for item in files for term in item.terms}
    # The garbage collector takes the same row locks; a xorb it removed meanwhile is reported.
    present = set(Xorb.objects.select_for_update().filter(hash__in=xorbs).values_list("hash", flat=True))
    if present != xorbs:
        raise BadXetData(f"Xorb {sorted(xorbs - present)[0]} is no longer stored; upload it again.")
    Xorb.objects.filter(hash__in=xorbs).update(touched_at=now)
    shard, _ = XetShard.objects.get_or_create(sha256=shard_sha256, defaults={"size": shard_size})
    inserted = 0
    for item in files:
        xet_file, created = XetFile.objects.get_or_create(
            hash=item.hash, defaults={"size": item.size, "sha256": item.sha256, "terms": item.terms, "shard": shard}
        )
        inserted += created
        stored, _ = StoredObject.objects.get_or_create(
            sha256=item.sha256, defaults={"size": item.size, "xet_hash": item.hash}
        )
        StoredObject.objects.filter(pk=stored.pk).update(touched_at=now, xet_hash=stored.xet_hash or item.hash)
        registry_services.upload_receipt_record(
            repo_id=repo.pk, sha256=item.sha256, user_id=user.pk if user else None, by_writer=by_writer
        )
        _, new_upload = XetUpload.objects.get_or_create(file=xet_file, repo=repo, defaults={"uploaded_by": user})
        inserted += new_upload
    faults.point("xet.shard_in_txn")
    return 1 if inserted else 0
