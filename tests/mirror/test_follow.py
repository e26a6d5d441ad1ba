"""First downloads follow the upstream fetch as it runs (mirror/spool.py): the fetch runs in a
background thread at the upstream's pace, and every caller, the first included, tails its spool.
The upstream (tests/mirror/conftest.py) sits behind a throttled link, so its 12 MiB file takes
about a second to come: long enough to see who got bytes before the fetch ended."""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from huggingface_hub import hf_hub_download

from mirror.models import MirrorObject, MirrorPull

pytestmark = pytest.mark.django_db(transaction=True)
BIG = "big.safetensors"
NEEDLE = "GET /upco/public-model/resolve/"


@contextmanager
def throttled_upstream(settings, upstream_hub, mbps: float):
    from bench.harness import ThrottledLink

    link = ThrottledLink(int(upstream_hub.url.rsplit(":", 1)[1]), mbps)
    link.start()
    settings.GATEHOUSE_UPSTREAMS = [{**settings.GATEHOUSE_UPSTREAMS[0], "endpoint": link.url}]
    try:
        yield link
    finally:
        link.stop()


def _upstream_gets(upstream_hub, filename: str) -> int:
    return len([line for line in upstream_hub.access_lines(NEEDLE) if filename in line])


def _stored(filename: str, seconds: float = 30) -> MirrorObject:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = MirrorObject.objects.filter(filename=filename, state="stored").first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{filename} was not stored within {seconds} s")


@pytest.mark.s3  # the spool is a local file on either backend
def test_concurrent_first_downloads_fetch_once_and_both_stream(hub, mirror_settings, tmp_path, settings):
    """Two first downloads at once, one through the client, one timed by hand: the upstream
    serves the file once, and both get bytes while the fetch still runs."""
    before = _upstream_gets(mirror_settings, BIG)
    barrier = threading.Barrier(2)
    results: dict[str, bytes] = {}
    first_byte_at: list[float] = []

    def with_client() -> None:
        barrier.wait()
        path = hf_hub_download(
            "upco/public-model", BIG, revision=mirror_settings.public_commit, cache_dir=tmp_path / "client"
        )
        results["client"] = hashlib.sha256(Path(path).read_bytes()).digest()

    def by_hand() -> None:
        barrier.wait()
        digest = hashlib.sha256()
        with requests.get(f"{hub}/upco/public-model/resolve/main/{BIG}", stream=True, timeout=30) as response:
            assert response.status_code == 200
            for chunk in response.iter_content(64 * 1024):
                if not first_byte_at:
                    first_byte_at.append(time.time())
                digest.update(chunk)
        results["by hand"] = digest.digest()

    with throttled_upstream(settings, mirror_settings, 100) as link:
        threads = [threading.Thread(target=target) for target in (with_client, by_hand)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert results["client"] == results["by hand"]
    row = MirrorObject.objects.get(filename=BIG)
    assert row.state == "stored" and row.fetch_count == 1
    assert row.sha256 == results["client"].hex()
    # Bytes arrived well before the fetch ended (it takes about a second over the link).
    assert row.fetched_at.timestamp() - first_byte_at[0] > 0.3
    assert _upstream_gets(mirror_settings, BIG) - before == 1
    assert link.sent["down"] < 13 * 1024 * 1024  # the file crossed the link once
    sources = sorted(MirrorPull.objects.filter(path=BIG).values_list("source", flat=True))
    assert sources == ["cache", "upstream"]


def test_a_first_client_that_leaves_does_not_abort_the_fetch(hub, mirror_settings, settings, tmp_path):
    before = _upstream_gets(mirror_settings, BIG)
    with throttled_upstream(settings, mirror_settings, 50):  # about two seconds for the file
        with requests.get(f"{hub}/upco/public-model/resolve/main/{BIG}", stream=True, timeout=30) as response:
            assert response.status_code == 200
            next(response.iter_content(64 * 1024))
        # The client is gone after its first bytes; the fetch goes on at the upstream's pace.
        assert MirrorObject.objects.get(filename=BIG).state == "fetching"
        row = _stored(BIG)
    assert row.fetch_count == 1
    path = hf_hub_download("upco/public-model", BIG, cache_dir=tmp_path / "again")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == row.sha256
    assert _upstream_gets(mirror_settings, BIG) - before == 1


def test_a_ranged_first_request_is_answered_before_the_fetch_ends(hub, mirror_settings, settings):
    url = f"{hub}/upco/public-model/resolve/main/{BIG}"
    whole = requests.get(f"{mirror_settings.url}/upco/public-model/resolve/main/{BIG}", timeout=30).content
    with throttled_upstream(settings, mirror_settings, 50):  # about two seconds for the file
        ranged = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
        state = MirrorObject.objects.get(filename=BIG).state
        assert (ranged.status_code, state) == (206, "fetching")
        assert ranged.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
        assert ranged.content == whole[1000:2000]
        # A range reaching the file's last bytes waits for them to be verified.
        tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=30)
        assert MirrorObject.objects.get(filename=BIG).state == "stored"
        assert (tail.status_code, tail.content) == (206, whole[-10:])
        assert MirrorObject.objects.get(filename=BIG).fetch_count == 1
    # Stored now: ranges come from the store.
    again = requests.get(url, headers={"Range": "bytes=5-9"}, timeout=30)
    assert (again.status_code, again.content) == (206, whole[5:10])
    # Pickle-format content is never served before it is fetched, verified and scanned.
    pickled = requests.get(f"{hub}/upco/public-model/resolve/main/weights.bin", headers={"Range": "bytes=0-1"})
    assert pickled.status_code == 503 and pickled.headers["X-Error-Code"] == "ScanPending"
    assert _stored("weights.bin").scan_status == "queued"


def test_without_a_free_fetch_thread_the_request_fetches_itself(hub, mirror_settings, settings, tmp_path):
    """Past GATEHOUSE_MIRROR_FETCH_THREADS the first request streams the fetch to its caller, as
    before; the file is fetched once all the same."""
    settings.GATEHOUSE_MIRROR_FETCH_THREADS = 0
    path = hf_hub_download("upco/public-model", BIG, cache_dir=tmp_path / "inline")
    row = MirrorObject.objects.get(filename=BIG)
    assert (row.state, row.fetch_count) == ("stored", 1)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == row.sha256
