"""Fetches that lose their lease, upstreams that trickle, requests that fail half way and stored
copies evicted under a read (review of issue 21, items 2, 3, 4, 6 and 15). Leases, renewals and
rates are lowered here so that each case takes a second or two behind a throttled link."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import OperationalError
from django.utils import timezone

from mirror import content, spool
from mirror.models import MirrorObject, MirrorRepoObject
from tests.mirror.test_follow import throttled_upstream

pytestmark = pytest.mark.django_db(transaction=True)
SMALL = "model.safetensors"  # 300 kB: about 2.4 s over a 1 Mbit/s link
SMALL_SIZE = 300_000


def _url(hub: str, name: str = SMALL) -> str:
    return f"{hub}/upco/public-model/resolve/main/{name}"


def _download(url: str) -> tuple[int, bytes]:
    """(status, the bytes received): a response cut short of its Content-Length gives what came."""
    received = bytearray()
    with requests.get(url, stream=True, timeout=60) as response:
        try:
            for chunk in response.iter_content(64 * 1024):
                received += chunk
        except requests.RequestException:
            pass
        return response.status_code, bytes(received)


def _upstream_gets(upstream) -> int:
    return len([line for line in upstream.access_lines("GET /upco/public-model/resolve/") if SMALL in line])


def _fetches_end(seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while spool.running_fetches() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.running_fetches()


def test_a_slow_upstream_keeps_its_lease_and_its_followers(hub, mirror_settings, settings, monkeypatch):
    """A fetch that takes longer than its lease renews it as bytes come (not once per MiB), and
    a follower waits as long as the spool grows: bytes come every half second, the file in about
    2.4 s, the lease is 1.5 s and a follower gives up after 1 s without progress."""
    monkeypatch.setattr(content, "LEASE", timedelta(seconds=1.5))
    monkeypatch.setattr(content, "RENEW_EVERY", 0.2)
    settings.GATEHOUSE_MIRROR_FOLLOW_SECONDS = 1
    with throttled_upstream(settings, mirror_settings, 1):
        status, body = _download(_url(hub))
    row = MirrorObject.objects.get(filename=SMALL)
    assert (status, len(body)) == (200, SMALL_SIZE)
    assert (row.state, row.fetch_count, hashlib.sha256(body).hexdigest()) == ("stored", 1, row.oid)


def test_a_trickling_upstream_is_given_up(hub, mirror_settings, settings, monkeypatch):
    """Below content.MIN_RATE over a window the fetch stops: its thread ends, the row is released
    for the next request, and the caller never gets a complete response."""
    monkeypatch.setattr(content, "MIN_RATE", 1_000_000)
    monkeypatch.setattr(content, "RATE_WINDOW", 0.5)
    with throttled_upstream(settings, mirror_settings, 1):
        status, body = _download(_url(hub))
        _fetches_end()
        assert status != 200 or len(body) < SMALL_SIZE
        row = MirrorObject.objects.get(filename=SMALL)
        assert (row.state, row.lease_until, row.spool_path) == ("fetching", None, "")
        monkeypatch.undo()
        status, body = _download(_url(hub))  # the next request fetches again
    assert (status, len(body)) == (200, SMALL_SIZE), body[:200]


def test_a_fetch_whose_row_was_taken_over_stops_and_writes_nothing(hub, mirror_settings, settings, monkeypatch):
    """Fetch A's lease runs out mid-fetch and B takes the row over (its own spool): A stops at its
    next renewal, never marks the row STORED (with B's spool) and never releases B's row; A's
    caller is cut short."""
    monkeypatch.setattr(content, "RENEW_EVERY", 0.0)  # renew (and check the fence) at every piece
    results: list[tuple[int, bytes]] = []
    with throttled_upstream(settings, mirror_settings, 1):
        caller = threading.Thread(target=lambda: results.append(_download(_url(hub))))
        caller.start()
        deadline = time.monotonic() + 20
        while not MirrorObject.objects.filter(filename=SMALL).exclude(spool_path="").exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        row = MirrorObject.objects.get(filename=SMALL)
        MirrorObject.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        taken = content.claim(row.upstream, row.oid, SMALL)  # B
        assert taken is not None
        MirrorObject.objects.filter(pk=row.pk).update(spool_host=content.host_name(), spool_path="/nowhere/b-spool")
        _fetches_end()
        caller.join(timeout=30)
    status, body = results[0]
    assert status != 200 or len(body) < SMALL_SIZE
    after = MirrorObject.objects.get(pk=row.pk)
    assert (after.state, after.spool_path, after.lease_until) == ("fetching", "/nowhere/b-spool", taken.lease_until)
    assert not MirrorRepoObject.objects.filter(oid=row.oid).exists()


def _tracked_followers(monkeypatch) -> list[spool.Follower]:
    made: list[spool.Follower] = []
    original = spool.Follower.__init__

    def tracking(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(spool.Follower, "__init__", tracking)
    return made


def test_a_follower_is_closed_when_its_request_fails(hub, mirror_settings, monkeypatch):
    """A database error while the first bytes are awaited: the follower's descriptor is closed
    at once (not left to the garbage collector); the fetch goes on and stores the file."""
    made = _tracked_followers(monkeypatch)

    def failing_head(self):
        raise OperationalError("the database went away")

    monkeypatch.setattr(spool.Follower, "head", failing_head)
    assert requests.get(_url(hub), timeout=60).status_code >= 500
    assert made and all(follower.fd == -1 for follower in made)
    _fetches_end()
    assert MirrorObject.objects.get(filename=SMALL).state == "stored"


def test_a_fetch_thread_that_cannot_start_leaves_nothing_held(hub, mirror_settings, monkeypatch):
    """spool.start failing: the follower is closed, the writer's temporary removed, the row
    released at once (not held until its lease runs out); the next request fetches."""
    made = _tracked_followers(monkeypatch)

    def no_thread(fetch):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(spool, "start", no_thread)
    assert requests.get(_url(hub), timeout=60).status_code >= 500
    assert made and all(follower.fd == -1 for follower in made)
    row = MirrorObject.objects.get(filename=SMALL)
    assert (row.state, row.lease_until, row.spool_path) == ("fetching", None, "")
    assert not any(os.path.exists(follower.spool_path) for follower in made)
    monkeypatch.undo()
    status, body = _download(_url(hub))
    assert (status, len(body)) == (200, SMALL_SIZE)


def test_an_object_evicted_under_a_read_is_fetched_again(hub, mirror_settings, monkeypatch):
    """The row was read as STORED, then evicted (row and file) before the file was opened: the
    request fetches it again instead of a 503. A file missing under a row still STORED (and one
    missing under a spot check) is a 503 with Retry-After, not a 500."""
    url = _url(hub)
    assert requests.get(url, timeout=60).status_code == 200
    row = MirrorObject.objects.get(filename=SMALL)
    gets = _upstream_gets(mirror_settings)
    original = content.stored
    evicted: list[int] = []

    def evicted_after_reading(upstream, oid):
        found = original(upstream, oid)
        if found is not None and not evicted:
            evicted.append(found.pk)
            MirrorObject.objects.filter(pk=found.pk).delete()
            content.mirror_storage().delete(found.sha256)
        return found

    monkeypatch.setattr(content, "stored", evicted_after_reading)
    response = requests.get(url, timeout=60)
    assert evicted == [row.pk]
    assert response.status_code == 200 and hashlib.sha256(response.content).hexdigest() == row.oid
    assert _upstream_gets(mirror_settings) == gets + 1
    monkeypatch.undo()

    again = MirrorObject.objects.get(filename=SMALL)
    content.mirror_storage().delete(again.sha256)  # the row stays STORED: nothing to fetch
    missing = requests.get(url, timeout=60)
    assert missing.status_code == 503 and missing.headers.get("Retry-After")
    MirrorRepoObject.objects.filter(oid=again.oid).delete()  # the next read spot checks first
    checked = requests.get(url, timeout=60)
    assert checked.status_code == 503 and checked.headers.get("Retry-After")


def test_a_slow_reader_of_a_fetch_it_runs_itself_is_not_taken_for_a_slow_upstream(
    hub, mirror_settings, settings, monkeypatch
):
    """Found by the recheck: with no free fetch thread the request fetches itself, paced by its
    client, and the minimum rate counted the client's pauses against the upstream (a 504, the
    response cut). Only the time spent waiting on the upstream counts now."""
    settings.GATEHOUSE_MIRROR_FETCH_THREADS = 0
    monkeypatch.setattr(content, "MIN_RATE", 8 * 1024 * 1024)
    monkeypatch.setattr(content, "RATE_WINDOW", 0.5)
    received = bytearray()
    with requests.get(_url(hub, "big.safetensors"), stream=True, timeout=60) as response:
        for chunk in response.iter_content(256 * 1024):  # about 2.5 MB/s: under the minimum rate
            received += chunk
            time.sleep(0.1)
    row = MirrorObject.objects.get(filename="big.safetensors")
    assert (response.status_code, row.state) == (200, "stored")
    assert hashlib.sha256(received).hexdigest() == row.sha256
