"""Writes of the mirror app: users' upstream tokens, the pull audit, scans of fetched content."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from licenses.models import LicenseText
from licenses.selectors import RevisionLicense
from mirror import crypto, license_gate
from mirror.config import Upstream
from mirror.models import (
    MirrorAcceptance,
    MirrorLicenseAcknowledgment,
    MirrorObject,
    MirrorPull,
    ObjectState,
    UpstreamCredential,
)

logger = logging.getLogger(__name__)
MAX_TOKEN_LENGTH = 1024
_VERSION = re.compile(r"^[0-9a-f]{64}$")


def check_token_text(token: str) -> None:
    """SECURITY: before the token goes anywhere (the upstream's whoami first): a value that is not
    a plain token (a pasted newline, say) failed inside the HTTP library, whose error, with the
    token in it, reached the error log."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isprintable() or any(c.isspace() for c in token):
        raise BadRequest(f"'token' must be a token of at most {MAX_TOKEN_LENGTH} printable characters, no spaces.")


@transaction.atomic
def credential_set(*, user: User, upstream: Upstream, token: str, upstream_username: str = "") -> UpstreamCredential:
    """Store (or replace) `user`'s own token for `upstream`, encrypted. SECURITY: the token is
    never logged nor answered back."""
    check_token_text(token)
    row, _ = UpstreamCredential.objects.update_or_create(
        user=user,
        upstream=upstream.name,
        defaults={"ciphertext": crypto.encrypt(token), "upstream_username": upstream_username[:200]},
    )
    return row


@transaction.atomic
def credential_delete(*, user: User, upstream: Upstream) -> None:
    deleted, _ = UpstreamCredential.objects.filter(user=user, upstream=upstream.name).delete()
    if not deleted:
        raise NotFound(f"You have no token for the upstream {upstream.name!r}.")


@transaction.atomic
def credentials_rotate() -> int:
    """Re-encrypt every stored token under the first key of GATEHOUSE_UPSTREAM_TOKEN_KEYS."""
    count = 0
    for row in UpstreamCredential.objects.select_for_update():
        row.ciphertext = crypto.rotate(row.ciphertext)
        row.save(update_fields=["ciphertext"])
        count += 1
    return count


def pull_record(
    *,
    user: User | None,
    upstream: str,
    repo_type: str,
    repo_id: str,
    commit: str,
    path: str,
    oid: str,
    size: int,
    source: str,
    acceptance: MirrorAcceptance | None = None,
) -> MirrorPull:
    """Audit one download of mirrored content (who, which repo, commit and file, from where)."""
    return MirrorPull.objects.create(
        user=user,
        user_label=user.username if user else "anonymous",
        upstream=upstream,
        repo_type=repo_type,
        repo_id=repo_id,
        commit=commit,
        path=path[:1024],
        oid=oid,
        size=size,
        source=source,
        acceptance=acceptance,
    )


def scan_request(*, row_pk: int, filename: str) -> None:
    """Queue the scan of fetched pickle-format content (it stays unserved until it is `safe`)."""
    from mirror.tasks import mirror_scan_task

    MirrorObject.objects.filter(pk=row_pk).update(scan_status="queued", filename=filename[:255])
    transaction.on_commit(partial(mirror_scan_task.delay, row_pk))


def scan_resend_if_lost(*, row: MirrorObject) -> None:
    """A scan still queued GATEHOUSE_SCAN_RETRY_AFTER after the fetch (worker down, task lost) is
    sent again, at most once per that period (the task is idempotent)."""
    from django.core.cache import cache
    from django.utils import timezone

    from mirror.tasks import mirror_scan_task

    retry_after = settings.GATEHOUSE_SCAN_RETRY_AFTER
    if row.fetched_at is None or (timezone.now() - row.fetched_at).total_seconds() < retry_after:
        return
    if cache.add(f"mirror:scan-resent:{row.pk}", 1, timeout=retry_after):
        transaction.on_commit(partial(mirror_scan_task.delay, row.pk))


def scan_record(*, row_pk: int, verdict: dict) -> None:
    MirrorObject.objects.filter(pk=row_pk, state=ObjectState.STORED).update(
        scan_status=str(verdict.get("status", "error"))[:16], scan_findings=verdict
    )


def repo_purge(*, upstream: str, repo_type: str, repo_id: str, actor: User | None) -> int:
    """Drop the stored content pulled for a mirrored repo (it is fetched again on next use).
    Downloads in flight finish: they read an open handle (an unlinked file stays readable; an
    object store's response already streaming is not cut). Content is stored once by upstream id,
    so a file another repo shares is fetched again for it too. Returns how many objects went."""
    oids = set(
        MirrorPull.objects.filter(upstream=upstream, repo_type=repo_type, repo_id__iexact=repo_id).values_list(
            "oid", flat=True
        )
    )
    with transaction.atomic():
        rows = list(
            MirrorObject.objects.select_for_update(skip_locked=True).filter(
                upstream=upstream, oid__in=oids, state=ObjectState.STORED
            )
        )
        MirrorObject.objects.filter(pk__in=[row.pk for row in rows]).delete()
        transaction.on_commit(partial(_delete_stored, [(row.sha256, row.oid) for row in rows]))
    logger.info(
        "Mirror purge of %s %s (%s) by %s: %d object(s)",
        repo_type,
        repo_id,
        upstream,
        actor.username if actor else "operator",
        len(rows),
    )
    return len(rows)


SERVED_TOUCH_EVERY = timedelta(minutes=1)
EVICT_LOW_WATER = 0.9  # an eviction frees down to this share of the bound, not one object at a time


def object_served_touch(*, row: MirrorObject) -> None:
    """Record that `row` was served from the store, for eviction's "least recently served".
    Cheap: no write while the recorded time is under a minute old (one write per object and
    minute at most, whatever the request rate)."""
    now = timezone.now()
    if row.last_served_at is not None and now - row.last_served_at < SERVED_TOUCH_EVERY:
        return
    MirrorObject.objects.filter(pk=row.pk).filter(
        Q(last_served_at__isnull=True) | Q(last_served_at__lt=now - SERVED_TOUCH_EVERY)
    ).update(last_served_at=now)
    row.last_served_at = now


def objects_evict_soon() -> None:
    """After a fetch stored its object (mirror.spool, so the new object counts): an eviction is
    queued (at most once a minute) when the mirror is bounded, rather than waiting for the beat's
    next round while a burst of first downloads fills it. Never raises: a broker or cache hiccup
    only leaves the eviction to the beat (logged)."""
    from django.core.cache import cache

    from mirror.tasks import mirror_evict_task

    try:
        if settings.GATEHOUSE_MIRROR_MAX_BYTES > 0 and cache.add("mirror:evict-soon", 1, timeout=60):
            transaction.on_commit(mirror_evict_task.delay)
    except Exception:  # noqa: BLE001 - the beat evicts all the same
        logger.warning("Mirror eviction could not be queued after a fetch", exc_info=True)


def objects_evict(*, max_bytes: int) -> int:
    """Keep the upstream content within `max_bytes` (0: unbounded): past it, the least recently
    served stored objects (never served: by when they were fetched) are dropped down to
    EVICT_LOW_WATER of the bound, as a purge drops them: downloads in flight finish (they read an
    open handle), and the next request fetches the object again. Fetches in progress count at
    the size the upstream announced (a burst of large first downloads makes room before it lands
    rather than overshooting the bound until the disk is full), but are never touched; a row
    another transaction holds is skipped. Objects fetched or served within
    GATEHOUSE_MIRROR_EVICT_MIN_AGE stay (the bound is overshot for a while instead: evicting
    what is in use would have the upstream send it again and again). Returns how many objects
    went."""
    if max_bytes <= 0:
        return 0
    recent = timezone.now() - timedelta(seconds=settings.GATEHOUSE_MIRROR_EVICT_MIN_AGE)
    stored = MirrorObject.objects.filter(state=ObjectState.STORED)
    in_flight = MirrorObject.objects.filter(state=ObjectState.FETCHING, lease_until__gt=timezone.now())
    stored_bytes = stored.aggregate(total=Sum("size"))["total"] or 0
    fetching_bytes = in_flight.aggregate(total=Sum("size"))["total"] or 0
    total = stored_bytes + fetching_bytes
    if total <= max_bytes:
        return 0
    excess = total - int(max_bytes * EVICT_LOW_WATER)
    order = (
        stored.annotate(served=Coalesce("last_served_at", "fetched_at"))
        .exclude(served__gt=recent)
        .order_by(F("served").asc(nulls_first=True), "pk")
    )
    chosen, freed = [], 0
    for pk, size in order.values_list("pk", "size").iterator(chunk_size=1000):
        if freed >= excess:
            break
        chosen.append(pk)
        freed += size
    with transaction.atomic():
        rows = list(
            MirrorObject.objects.select_for_update(skip_locked=True).filter(pk__in=chosen, state=ObjectState.STORED)
        )
        MirrorObject.objects.filter(pk__in=[row.pk for row in rows]).delete()
        transaction.on_commit(partial(_delete_stored, [(row.sha256, row.oid) for row in rows]))
    logger.info(
        "Mirror eviction: %d object(s), %d bytes (stored %d, being fetched %d, bound %d)",
        len(rows),
        sum(row.size for row in rows),
        stored_bytes,
        fetching_bytes,
        max_bytes,
    )
    return len(rows)


def _delete_stored(objects: list[tuple[str, str]]) -> None:
    """Delete the files of dropped objects ((sha256, oid) pairs) that nothing else uses. Files
    are stored once by sha256, and publishing a file that exists keeps it (the fetch's own copy
    is dropped), so a file is kept while another row is STORED with it, and while a fetch is in
    progress that may publish it: one whose oid is that sha256 (LFS content, from any upstream)
    or a dropped object's oid (a small file fetched again after it was dropped). Such a fetch
    that fails leaves the file unreferenced: the next fetch of it keeps it."""
    from mirror.content import mirror_storage

    storage = mirror_storage()
    oids: dict[str, set[str]] = {}
    for sha256, oid in objects:
        oids.setdefault(sha256, {sha256}).add(oid)
    for sha256, candidates in oids.items():
        used = MirrorObject.objects.filter(
            Q(sha256=sha256, state=ObjectState.STORED) | Q(state=ObjectState.FETCHING, oid__in=sorted(candidates))
        )
        if not used.exists():
            storage.delete(sha256)


@transaction.atomic
def license_acknowledgment_record(
    *, user: User, subject: license_gate.Subject, current: RevisionLicense | None, version: object, source: str
) -> tuple[MirrorLicenseAcknowledgment, bool]:
    """Record that `user` accepted the license text `version` of a mirrored repo, `current`
    being the license in force at the revision they were shown (mirror.license_gate). Only that
    version is accepted; a replay returns the existing record, so (record, created) is idempotent."""
    if current is None:
        raise BadRequest("Downloads of this revision do not require accepting its license on this hub.")
    if current.is_text_withheld:
        raise Forbidden("The license text is withheld from you upstream, so it cannot be accepted yet.")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BadRequest("'version' must be the license version: the sha256 (64 hex digits) of the license text.")
    if version != current.version:
        # SECURITY: only the text the user can have been shown at that revision is recorded.
        raise Conflict(
            f"License version {version[:12]} is not the license of revision {current.commit_oid[:12]}: "
            f"its current version is {current.version[:12]}. Read it at {subject.accept_url(current.commit_oid)}"
        )
    text, _ = LicenseText.objects.get_or_create(sha256=current.version, defaults={"text": current.text})
    ack, created = MirrorLicenseAcknowledgment.objects.get_or_create(
        user=user,
        upstream=subject.upstream.name,
        repo_type=subject.repo_type,
        repo_id=subject.repo_id.lower(),
        license_id=current.license_id,
        text=text,
        defaults={
            "license_name": current.license_name[:200],
            "commit_oid": current.commit_oid,
            "location": current.location[:500],
            "source": source,
        },
    )
    if created:
        logger.info(
            "Mirror license acknowledgment %s: %s accepted %s %s of %s %s (%s)",
            ack.pk,
            user.username,
            current.license_id,
            current.version[:12],
            subject.repo_type,
            subject.repo_id,
            subject.upstream.name,
        )
    return ack, created


@transaction.atomic
def acceptance_create(
    *, upstream: Upstream, repo_type: str, repo_id: str, accepted_by: str, reason: str
) -> MirrorAcceptance:
    """Record an operator's acceptance of a gated upstream repo's terms on the organisation's
    behalf (mirror_accept). The operator's token must exist: it is what passes the gate."""
    if not upstream.operator_token:
        raise BadRequest(f"The upstream {upstream.name!r} has no operator token to accept terms with.")
    if not reason.strip() or not accepted_by.strip():
        raise BadRequest("An acceptance names who accepted and why.")
    acceptance = MirrorAcceptance.objects.create(
        upstream=upstream.name, repo_type=repo_type, repo_id=repo_id, accepted_by=accepted_by[:200], reason=reason
    )
    logger.info(
        "Mirror acceptance %s of %s %s (%s) by %s", acceptance.pk, repo_type, repo_id, upstream.name, accepted_by
    )
    return acceptance


@transaction.atomic
def acceptance_revoke(*, upstream: Upstream, repo_type: str, repo_id: str) -> int:
    from django.utils import timezone

    return MirrorAcceptance.objects.filter(
        upstream=upstream.name, repo_type=repo_type, repo_id__iexact=repo_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


def acceptance_for(*, upstream: str, repo_type: str, repo_id: str) -> MirrorAcceptance | None:
    return (
        MirrorAcceptance.objects.filter(
            upstream=upstream, repo_type=repo_type, repo_id__iexact=repo_id, revoked_at__isnull=True
        )
        .order_by("-at")
        .first()
    )
