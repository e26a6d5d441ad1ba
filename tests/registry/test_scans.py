"""Scans the worker never ran (worker down, task lost) are re-sent by the beat, a bounded number
of times, then recorded as `error`; overlapping ticks re-send a scan once."""

import os
import pickle
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from registry import tasks
from registry.models import FileScan
from registry.services.scans import scans_requeue_stale
from tests.support.builders import make_repo
from tests.support.concurrency import run_at_once


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.fixture
def lost_scan(alice, settings):
    """A committed pickle whose scan task was lost: outside a transactional test the commit's
    on_commit hooks never run, exactly as if the broker had dropped the task."""
    settings.GATEHOUSE_SCAN_RETRY_AFTER = 15 * 60
    settings.GATEHOUSE_SCAN_MAX_ATTEMPTS = 3
    make_repo(alice, "m", {"evil.bin": pickle.dumps(_Evil())})
    FileScan.objects.exclude(filename="evil.bin").delete()  # the repo's .gitattributes: one lost scan is enough
    return FileScan.objects.get(filename="evil.bin")


@pytest.fixture
def eager_tasks():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.django_db
def test_a_lost_scan_is_sent_again_after_the_retry_delay_and_then_runs(
    lost_scan, eager_tasks, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=14)), django_capture_on_commit_callbacks(execute=True):
        assert tasks.scans_requeue_task() == 0
    assert FileScan.objects.get().status == "queued"
    with time_machine.travel(start + timedelta(minutes=16)), django_capture_on_commit_callbacks(execute=True):
        assert tasks.scans_requeue_task() == 1
    scan = FileScan.objects.get()
    assert scan.status == "unsafe" and scan.attempts == 2


@pytest.mark.django_db
def test_a_scan_is_sent_a_bounded_number_of_times_then_fails_closed(lost_scan, django_capture_on_commit_callbacks):
    start = timezone.now()
    sent = 0
    for minutes in (16, 20, 32, 48, 64, 80):  # the worker stays down throughout
        with time_machine.travel(start + timedelta(minutes=minutes)), django_capture_on_commit_callbacks() as sends:
            outcome = scans_requeue_stale()
        sent += len(sends)
        assert len(sends) == len(outcome.requeued)
    scan = FileScan.objects.get()
    assert sent == 2 and scan.attempts == 3  # the first send at commit time, then two more
    assert scan.status == "error" and "never ran" in scan.message and scan.scanned_at is not None
    # The task was only waiting in a long queue: when it runs at last, it scans.
    tasks.scan_blob_task(scan.sha256)
    assert FileScan.objects.get().status == "unsafe"


@pytest.mark.django_db
def test_finished_scans_are_left_alone(lost_scan, django_capture_on_commit_callbacks):
    FileScan.objects.update(status="safe")
    with time_machine.travel(timezone.now() + timedelta(days=1)), django_capture_on_commit_callbacks() as sends:
        assert scans_requeue_stale().requeued == []
    assert sends == [] and FileScan.objects.get().status == "safe"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises writers")
@pytest.mark.django_db(transaction=True)
def test_overlapping_ticks_send_a_stuck_scan_once(settings, monkeypatch):
    settings.GATEHOUSE_SCAN_RETRY_AFTER = 60
    FileScan.objects.bulk_create(
        [
            FileScan(sha256=f"{n:064x}", filename=f"{n}.bin", queued_at=timezone.now() - timedelta(hours=1))
            for n in range(20)
        ]
    )
    sent: list[str] = []
    monkeypatch.setattr("registry.services.scans._send_scans", sent.extend)
    run_at_once(scans_requeue_stale)
    assert sorted(sent) == sorted(f"{n:064x}" for n in range(20))
    assert set(FileScan.objects.values_list("attempts", flat=True)) == {2}


@pytest.mark.django_db
def test_operators_rescan_files_by_verdict(lost_scan, eager_tasks, django_capture_on_commit_callbacks, capsys):
    """After a scanner upgrade a file the old scanner called safe is scanned again (the command)."""
    from django.core.management import CommandError, call_command

    FileScan.objects.update(status="safe", message="old scanner")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("scans_rescan")  # default: error verdicts only
    assert FileScan.objects.get().status == "safe"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("scans_rescan", "--status", "safe", "--status", "error")
    assert "Queued 1 scans." in capsys.readouterr().out
    scan = FileScan.objects.get()
    assert (scan.status, scan.message, scan.attempts) == (
        "unsafe",
        "Dangerous imports found: this file can run code when loaded.",
        1,
    )
    with pytest.raises(CommandError, match="Unknown scan status: sane"):
        call_command("scans_rescan", "--status", "sane")
