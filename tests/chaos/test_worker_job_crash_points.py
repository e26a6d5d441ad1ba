"""kill -9 of a Celery worker's pool child in the middle of a preview, a bias report, a
notification mail and a scheduled release stage (issue 17).

Each test starts a real worker with its beat (PostgreSQL, the suite's Redis as broker; the tiny
random-weight pipeline on the CPU for previews) with one named crash point armed once across
processes (core/faults.py): the child SIGKILLs itself there, Celery starts another, and recovery
is the system's own (the preview reaper, the outbox relay, the next beat tick). Internal effects
must happen exactly once; a mail at least once and at most twice, the repeat logged and carrying
the same Message-ID.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from community.models import Discussion
from core.models import OutboxMessage
from gating.models import AuditEvent, ReleasePlan
from gating.release import StageSpec, release_plan_set
from registry.models import Repo
from registry.ops.gc import collect_garbage
from tests.e2e.conftest import wait_for
from tests.support.builders import make_repo, token_for
from tests.support.previews import media_files, request_preview
from tests.support.worker_process import WorkerProcess
from workers.media import preview_store
from workers.models import BiasReport, PreviewJob, SafetyVerdict

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("e2e_settings")]

# The dead child's preview lease runs out within seconds and the reaper looks every second; long
# enough that a busy 2-core machine does not make a live worker miss a renewal.
FAST_RECOVERY = {
    "GATEHOUSE_PREVIEW_LEASE_SECONDS": "12",
    "GATEHOUSE_PREVIEW_REAP_INTERVAL": "1",
    "GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT": "150",
    "GATEHOUSE_PREVIEW_HARD_TIME_LIMIT": "180",
    "GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT": "240",
    "GATEHOUSE_OUTBOX_LEASE_SECONDS": "5",
    "GATEHOUSE_OUTBOX_RETRY_AFTER": "3",
    "GATEHOUSE_OUTBOX_RELAY_INTERVAL": "1",
    "GATEHOUSE_RELEASE_APPLY_INTERVAL": "1",
}


def start_armed(worker_setup, tmp_path: Path, point: str, env: dict | None = None) -> WorkerProcess:
    state = tmp_path / "faults"
    state.mkdir()
    armed = {"GATEHOUSE_FAULTPOINTS": f"{point}:1", "GATEHOUSE_FAULTPOINTS_STATE": str(state)}
    return worker_setup.start(name=point.replace(".", "-"), beat=True, env={**FAST_RECOVERY, **armed, **(env or {})})


def wait_then_stop(worker: WorkerProcess, predicate, *, timeout: float, what: str) -> str:
    """Wait for `predicate`, stop the worker, return its log (shown when the wait times out)."""
    try:
        wait_for(predicate, timeout=timeout, interval=0.5, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.output()[-4000:]}") from None
    finally:
        worker.stop()
    return worker.output()


def assert_died_once_there(tmp_path: Path, point: str, log: str) -> None:
    passes = sorted(p.name for p in (tmp_path / "faults").iterdir())
    assert passes[0] == f"{point}.1" and len(passes) >= 2, passes  # died at the first pass, passed later
    assert "signal 9" in log or "SIGKILL" in log, log[-3000:]  # the child really died there


def test_worker_killed_after_storing_a_preview_finishes_it_exactly_once(
    client,
    alice,
    sd_repo,
    worker_setup,
    settings,
    tmp_path,
):
    earlier = set(media_files(settings))  # the module's workers share one media folder
    worker = start_armed(worker_setup, tmp_path, "preview.before_finish")
    job = PreviewJob.objects.get(requests__pk=request_preview(client, alice, seed=5)["id"])
    log = wait_then_stop(worker, lambda: PreviewJob.objects.get(pk=job.pk).is_terminal, timeout=240, what="the preview")
    job.refresh_from_db()
    assert_died_once_there(tmp_path, "preview.before_finish", log)
    assert job.status == "succeeded" and job.attempts == 2, (job.error, log[-3000:])
    assert set(media_files(settings)) - earlier == {job.result_sha256}  # the killed attempt stored the same bytes
    checker = SafetyVerdict.objects.filter(job=job, stage="checker")
    assert list(checker.values_list("attempt", flat=True)) == [2]  # one result, from the finished attempt


def test_worker_killed_mid_bias_report_gives_every_cell_exactly_one_result(
    client,
    alice,
    sd_repo,
    worker_setup,
    settings,
    tmp_path,
):
    earlier = set(media_files(settings))  # the module's workers share one media folder
    worker = start_armed(worker_setup, tmp_path, "preview.before_finish")
    body = {"professions": "chef, pilot", "adjectives": "", "seeds": 1, "num_inference_steps": 2}
    owner = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    response = client.post("/api/models/alice/tiny-sd/bias-reports", body, "application/json", **owner)
    assert response.status_code in (200, 201, 202), response.content
    report = BiasReport.objects.get()
    jobs = PreviewJob.objects.filter(bias_cells__report=report)
    log = wait_then_stop(worker, lambda: all(j.is_terminal for j in jobs.all()), timeout=300, what="every cell")
    assert_died_once_there(tmp_path, "preview.before_finish", log)
    cells = list(jobs.all())
    assert len(cells) == 2 and {j.status for j in cells} == {"succeeded"}, [(j.status, j.error) for j in cells]
    assert max(j.attempts for j in cells) == 2  # the killed batch ran again
    results, stored = {j.result_sha256 for j in cells}, set(media_files(settings)) - earlier
    assert len(results) == 2 and results <= stored  # one image per cell, each stored
    # The killed attempt stored one image before dying. A rerun in a batch of another size renders
    # other bytes (batched CPU arithmetic), so that image may stay, unreferenced: no job shows it,
    # and gc_blobs deletes it once past the grace period (workers.services.media_gc).
    assert len(stored - results) <= 1
    leftovers = [preview_store().local_path(name) for name in stored - results]
    if all(leftovers):  # (the local store: its age can be set here)
        for path in leftovers:
            os.utime(path, (0, 0))
        assert collect_garbage(grace=timedelta(days=1)).extra["unreferenced preview images"] == len(leftovers)
        assert set(media_files(settings)) - earlier == results
    for cell in cells:
        checker = SafetyVerdict.objects.filter(job=cell, stage="checker")
        assert list(checker.values_list("attempt", flat=True)) == [cell.attempts]


def test_worker_killed_after_mailing_before_recording_mails_again_with_the_same_message_id(
    client,
    alice,
    bob,
    worker_setup,
    tmp_path,
):
    repo = make_repo(alice, "model", {"README.md": b"# Model\n"})
    mails = tmp_path / "mails"
    worker = start_armed(worker_setup, tmp_path, "outbox.after_run", env={"EMAIL_URL": f"filemail:///{mails}"})
    response = client.post(
        f"/api/models/{repo.repo_id}/discussions",
        {"title": "Speed", "description": "Is it fast?"},
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert response.status_code == 200, response.content
    pending = OutboxMessage.objects.filter(done_at__isnull=True)
    log = wait_then_stop(worker, lambda: not pending.exists(), timeout=120, what="the notification")
    assert_died_once_there(tmp_path, "outbox.after_run", log)
    (message,) = OutboxMessage.objects.all()
    assert message.done_at and message.runs == 2 and not message.abandoned_at
    assert len(re.findall(r"outbox message \d+ .* runs again", log)) == 1  # the repeat is logged, once
    sent = "".join(path.read_text() for path in mails.glob("*.log"))
    recipients = re.findall(r"^To: (.*)$", sent, re.M)
    ids = re.findall(r"^Message-ID: (.*)$", sent, re.M)
    # bob's new thread mails alice (she moderates the repo): at least once, here exactly twice
    # (sent, killed before recording it, sent again), both copies with one idempotency key.
    assert recipients == [alice.email, alice.email], sent[-3000:]
    event = Discussion.objects.get().events.get()
    assert ids == [f"<gatehouse.event-{event.pk}.{alice.pk}@localhost>"] * 2, sent[-3000:]


def test_worker_killed_inside_a_scheduled_release_stage_applies_it_exactly_once(alice, worker_setup, tmp_path):
    repo = make_repo(alice, "staged", {"README.md": b"# Staged\n"})
    due = timezone.now() - timedelta(seconds=1)
    release_plan_set(repo=repo, actor=alice, stages=[StageSpec("private"), StageSpec("public", scheduled_at=due)])
    assert Repo.objects.get(pk=repo.pk).private
    worker = start_armed(worker_setup, tmp_path, "release.in_stage_txn")
    plan = ReleasePlan.objects.get(repo=repo)
    log = wait_then_stop(
        worker, lambda: ReleasePlan.objects.get(pk=plan.pk).current_position == 1, timeout=120, what="stage 2"
    )
    assert_died_once_there(tmp_path, "release.in_stage_txn", log)
    assert not Repo.objects.get(pk=repo.pk).private
    applied = AuditEvent.objects.filter(repo=repo, action="release.stage_apply", reason="scheduled")
    assert [event.data["position"] for event in applied] == [1]  # the killed transaction left nothing
    assert plan.stages.get(position=1).applied_at is not None
