"""Workers under adverse conditions: a checker that flags everything, and a worker killed with
SIGKILL mid-job (threats T15/T16, goal G3). Each test starts its own worker processes."""

import time

import pytest

from tests.e2e.conftest import wait_for
from tests.support.builders import token_for
from tests.support.previews import media_files, request_preview
from workers.models import PreviewJob, PreviewRequest, SafetyVerdict

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("e2e_settings")]


def ask(client, user, **body) -> PreviewJob:
    return PreviewJob.objects.get(requests__pk=request_preview(client, user, **body)["id"])


def terminal(job: PreviewJob, timeout: float) -> PreviewJob:
    def poll():
        job.refresh_from_db()
        return job if job.is_terminal else None

    return wait_for(poll, timeout=timeout, what=f"job {job.pk} to end")


def test_flag_everything_checker_gives_blocked_and_stores_no_image(
    client, alice, sd_repo, worker_setup, flagging_checker_dir, settings
):
    worker = worker_setup.start(name="flagging", env={"GATEHOUSE_SAFETY_CHECKER_PATH": str(flagging_checker_dir)})
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(flagging_checker_dir)  # same request key space as the worker
    try:
        job = terminal(ask(client, alice), timeout=90)
    finally:
        worker.stop()
    assert (job.status, job.blocked_stage, job.blocked_category, job.result_sha256) == (
        "blocked",
        "checker",
        "sexual",
        "",
    )
    assert media_files(settings) == []
    status = client.get(
        f"/api/models/alice/tiny-sd/previews/{job.requests.get().pk}", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}"
    ).json()
    assert status["imageUrl"] is None and "image safety checker" in status["safety"]["blocked"]["message"]


# 40 s: `make test-slow`; make test kills a worker under make run's manager (test_make_run.py).
@pytest.mark.slow
def test_worker_killed_mid_job_still_completes_exactly_once(client, alice, sd_repo, worker_setup, settings):
    # A short lease so the dead worker's job is reaped within seconds; long enough that a busy
    # 2-core machine does not make a live worker miss a renewal (which would cost an attempt).
    fast_recovery = {
        "GATEHOUSE_PREVIEW_LEASE_SECONDS": "12",
        "GATEHOUSE_PREVIEW_REAP_INTERVAL": "1",
        "GATEHOUSE_PREVIEW_SOFT_TIME_LIMIT": "150",
        "GATEHOUSE_PREVIEW_HARD_TIME_LIMIT": "180",
        "GATEHOUSE_PREVIEW_VISIBILITY_TIMEOUT": "240",
    }
    doomed = worker_setup.start(name="doomed", env=fast_recovery)
    # 96x96 and 24 steps: seconds of compute, so the kill lands mid-render.
    job = ask(client, alice, width=96, height=96, num_inference_steps=24)

    def rendering():
        job.refresh_from_db()
        return job.status == "running" and job.progress_step >= 1

    try:
        wait_for(rendering, timeout=90, what="the first worker to be mid-render")
    finally:
        doomed.kill()
    killed_at, killed_step = time.monotonic(), job.progress_step
    assert job.attempts == 1 and not job.is_terminal

    replacement = worker_setup.start(name="replacement", beat=True, env=fast_recovery)
    restart = time.monotonic() - killed_at
    try:
        job = terminal(job, timeout=180)
    finally:
        replacement.stop()
    recovered = time.monotonic() - killed_at
    print(f"\nkilled at step {killed_step}/24; terminal {recovered:.1f} s later (worker restart {restart:.1f} s)")
    assert job.status == "succeeded", (job.error, replacement.output()[-3000:])
    assert job.attempts == 2  # the killed attempt, then the one that finished
    assert media_files(settings) == [job.result_sha256]
    assert PreviewRequest.objects.count() == 1
    checker_verdicts = SafetyVerdict.objects.filter(job=job, stage="checker")
    assert list(checker_verdicts.values_list("attempt", flat=True)) == [2]  # one result, from one attempt
