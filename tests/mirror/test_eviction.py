"""Eviction of stored upstream content (mirror.services.objects_evict) beside fetches in
progress: their announced sizes count, a file one of them may publish is kept, and the eviction
after a fetch runs once its object is stored. Real PostgreSQL and blob store; the upstream of
tests/mirror/conftest.py where a fetch is needed."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from mirror import client, content, services, spool, upstream_cache
from mirror.config import upstream_for_namespace
from mirror.credentials import ANONYMOUS
from mirror.models import MirrorObject, ObjectState

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(data: bytes, *, oid: str | None = None, upstream: str = "up", minutes_ago: int = 10) -> MirrorObject:
    sha256 = content.mirror_storage().put_bytes(data)
    return MirrorObject.objects.create(
        upstream=upstream,
        oid=oid or sha256,
        sha256=sha256,
        size=len(data),
        state=ObjectState.STORED,
        fetched_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def _fetching(oid: str, *, size: int = 0, upstream: str = "up", live: bool = True) -> MirrorObject:
    lease = timezone.now() + (content.LEASE if live else -content.LEASE)
    return MirrorObject.objects.create(
        upstream=upstream, oid=oid, state=ObjectState.FETCHING, lease_until=lease, size=size
    )


def _on_disk(row: MirrorObject) -> bool:
    return content.mirror_storage().exists(row.sha256)


def test_eviction_keeps_a_file_a_fetch_in_progress_may_publish():
    """Found by a review: files are stored once by sha256 and publishing one that exists keeps
    it, so a fetch of the same bytes publishing while an eviction dropped the row ended STORED
    with no file. A file is now kept while a fetch that may publish it is in progress."""
    # The same LFS bytes being fetched from another upstream (its oid is their sha256).
    shared = _stored(os.urandom(1000))
    twin = _fetching(shared.oid, upstream="other")
    # A small file (oid: its git blob id), requested again right after it is dropped.
    small_data = os.urandom(500)
    blob_id = hashlib.sha1(b"blob 500\0" + small_data, usedforsecurity=False).hexdigest()
    small = _stored(small_data, oid=blob_id, minutes_ago=9)
    # Nothing fetches these bytes again: their file goes.
    alone = _stored(os.urandom(700), minutes_ago=8)

    with transaction.atomic():  # the eviction, and a request claiming the small file before it commits
        assert services.objects_evict(max_bytes=1) == 3
        refetch = content.claim("up", blob_id, "small.json")
        assert refetch is not None
    assert not MirrorObject.objects.filter(state=ObjectState.STORED).exists()
    assert _on_disk(shared) and _on_disk(small)
    assert not _on_disk(alone)

    # Those fetches end STORED with their file there.
    for row in (twin, refetch):
        MirrorObject.objects.filter(pk=row.pk).update(
            state=ObjectState.STORED, sha256=shared.sha256 if row is twin else small.sha256
        )
    assert _on_disk(shared) and _on_disk(small)


def test_eviction_counts_fetches_in_progress():
    """Found by a review: only STORED objects were counted, so a burst of large first downloads
    overshot the bound until the disk was full. Live fetches count at their announced size
    (a fetch whose lease ran out no longer holds room); only stored objects are dropped."""
    oldest = _stored(os.urandom(100), minutes_ago=10)
    newer = _stored(os.urandom(100), minutes_ago=5)
    _fetching("d" * 64, size=10_000, live=False)  # its fetcher died
    assert services.objects_evict(max_bytes=300) == 0  # 200 stored, nothing live
    fetching = _fetching("e" * 64, size=150)
    assert services.objects_evict(max_bytes=300) == 1  # 350 > 300: down to 270
    assert list(MirrorObject.objects.filter(state=ObjectState.STORED).values_list("pk", flat=True)) == [newer.pk]
    assert not _on_disk(oldest) and _on_disk(newer)
    assert MirrorObject.objects.get(pk=fetching.pk).state == ObjectState.FETCHING


def test_a_fetch_announces_its_size_when_it_starts(mirror_settings):
    upstream = upstream_for_namespace("upco")
    assert upstream is not None
    resolve_path = f"/upco/public-model/resolve/{mirror_settings.public_commit}/model.safetensors"
    facts = upstream_cache.file_facts(upstream, ANONYMOUS, resolve_path, anonymous=True)
    row = content.claim(upstream.name, facts.oid, "model.safetensors")
    assert row is not None and row.size == 0
    response = client.request(upstream, "GET", resolve_path, token=None, stream=True)
    fetch = content.Fetch(
        row,
        response,
        is_lfs=facts.is_lfs,
        size=facts.size,
        repo=("model", "upco/public-model"),
        filename="model.safetensors",
    )
    assert MirrorObject.objects.get(pk=row.pk).size == facts.size == 300_000  # before any byte
    fetch.drain()
    assert MirrorObject.objects.get(pk=row.pk).state == ObjectState.STORED


def _fetches_end() -> None:
    deadline = time.monotonic() + 30
    while spool.running_fetches() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_eviction_after_a_fetch_counts_the_object_it_stored(hub, mirror_settings, settings):
    """Found by a review: the eviction "after a fetch" was queued as the fetch began (the new
    object not stored yet, so never counted), from the request (a broker hiccup turned a good
    download into a 500). It is queued by the fetch's thread once the object is stored: here the
    new object, fetched through a slow link, takes the mirror past its bound, and the older one
    goes once it landed."""
    from django.core.cache import cache

    from config.celery import app
    from tests.mirror.test_follow import throttled_upstream

    older = _stored(b"older", minutes_ago=60)
    MirrorObject.objects.filter(pk=older.pk).update(size=20_000_000)  # stands for a large object
    settings.GATEHOUSE_MIRROR_MAX_BYTES = 21_000_000  # the 12 MiB next take it past
    cache.delete("mirror:evict-soon")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with throttled_upstream(settings, mirror_settings, 50):  # about two seconds for the file
            got = requests.get(f"{hub}/upco/public-model/resolve/{mirror_settings.public_commit}/big.safetensors")
            assert got.status_code == 200 and len(got.content) == 12 * 1024 * 1024
            _fetches_end()
    finally:
        app.conf.task_always_eager = eager
    assert list(MirrorObject.objects.values_list("filename", flat=True)) == ["big.safetensors"]


def test_objects_in_use_are_not_evicted_before_their_minimum_age(settings):
    """Found by the attack: one-byte ranges of two large files, alternately, had each fetched in
    full again after every eviction (180 MiB from the upstream for 8 bytes served). What was
    fetched or served within GATEHOUSE_MIRROR_EVICT_MIN_AGE stays, the bound overshot meanwhile."""
    settings.GATEHOUSE_MIRROR_EVICT_MIN_AGE = 600
    old = _stored(os.urandom(100), minutes_ago=30)
    young = _stored(os.urandom(100), minutes_ago=5)
    served = _stored(os.urandom(100), minutes_ago=30)
    MirrorObject.objects.filter(pk=served.pk).update(last_served_at=timezone.now() - timedelta(minutes=1))
    assert services.objects_evict(max_bytes=1) == 1
    assert set(MirrorObject.objects.values_list("pk", flat=True)) == {young.pk, served.pk}
    assert not _on_disk(old) and _on_disk(young) and _on_disk(served)
