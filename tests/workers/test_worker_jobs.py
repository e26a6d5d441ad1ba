"""The worker side in-process (no broker): claim, lease, batching, finishing once, reaping."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.builders import token_for
from tests.support.previews import media_files, preview_body, request_preview
from workers import services, worker
from workers.models import JobStatus, PreviewJob, SafetyVerdict
from workers.runner.specs import JobOutcome

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings", "fresh_engine")]


def job_of(data) -> PreviewJob:
    return PreviewJob.objects.get(requests__pk=data["id"])


@pytest.mark.s3
def test_a_job_renders_stores_one_image_and_records_every_verdict(client, alice, sd_repo, settings):
    data = request_preview(client, alice)
    worker.run_job(str(job_of(data).pk))
    job = job_of(data)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1 and job.lease_owner == ""
    assert job.timings["batch_size"] == 1 and job.device == "cpu"
    assert media_files(settings) == [job.result_sha256]
    stages = list(SafetyVerdict.objects.filter(job=job).order_by("attempt", "pk").values_list("attempt", "stage"))
    assert stages == [(0, "prompt"), (1, "prompt"), (1, "guidance"), (1, "checker")]
    image = client.get(data["url"] + "/image", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["Cache-Control"].startswith("private")
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    worker.run_job(str(job.pk))  # a redelivered message: nothing happens
    assert PreviewJob.objects.get(pk=job.pk).attempts == 1 and len(media_files(settings)) == 1


def test_flag_everything_checker_blocks_and_stores_nothing(client, alice, sd_repo, settings, flagging_checker_dir):
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(flagging_checker_dir)
    data = request_preview(client, alice)
    worker.run_job(str(job_of(data).pk))
    job = job_of(data)
    assert (job.status, job.blocked_stage, job.blocked_category, job.result_sha256) == (
        "blocked",
        "checker",
        "sexual",
        "",
    )
    assert media_files(settings) == []
    detail = client.get(data["apiUrl"], HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}").json()
    assert detail["imageUrl"] is None and detail["safety"]["blocked"]["stage"] == "checker"
    image = client.get(data["url"] + "/image", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert image.status_code == 404


def test_compatible_queued_jobs_are_batched(client, alice, sd_repo, settings):
    first, second, third = (request_preview(client, alice, seed=seed) for seed in (1, 2, 3))
    other = request_preview(client, alice, seed=4, num_inference_steps=3)  # different steps: another batch
    worker.run_job(str(job_of(first).pk))
    assert [job_of(d).status for d in (first, second, third, other)] == ["succeeded"] * 3 + ["queued"]
    assert job_of(second).timings["batch_size"] == 3
    worker.run_job(str(job_of(second).pk))  # its own message arrives later: a no-op
    assert job_of(second).attempts == 1


def test_unsupported_weights_fail_the_job_without_crashing(client, alice, sd_repo):
    data = request_preview(client, alice)
    job = job_of(data)
    PreviewJob.objects.filter(pk=job.pk).update(params={**job.params, "steps": 10_000})
    worker.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == "failed" and "between 1 and 50" in job.error


def test_a_missing_checker_fails_closed(client, alice, sd_repo, settings, tmp_path):
    data = request_preview(client, alice)
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(tmp_path / "nowhere")
    worker.run_job(str(job_of(data).pk))
    job = job_of(data)
    assert job.status == "failed" and "No safetensors safety checker" in job.error and not job.result_sha256


def test_out_of_memory_fails_the_batch_and_the_next_preview_succeeds(client, alice, sd_repo, monkeypatch):
    import torch

    from workers.safety.sld import SafeLatentDiffusionPipeline

    real_render = SafeLatentDiffusionPipeline.render
    calls = []

    def render_once_oom(self, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_render(self, **kwargs)

    monkeypatch.setattr(SafeLatentDiffusionPipeline, "render", render_once_oom)
    failing, next_one = (
        request_preview(client, alice, seed=1),
        request_preview(client, alice, seed=2, num_inference_steps=3),
    )
    worker.run_job(str(job_of(failing).pk))
    assert job_of(failing).status == "failed" and "ran out of device memory" in job_of(failing).error
    worker.run_job(str(job_of(next_one).pk))
    assert job_of(next_one).status == "succeeded"


def test_lease_holder_finishes_exactly_once():
    job_id, owner = _running_job(lease_seconds=60)
    outcome = JobOutcome(job_id=str(job_id), status="blocked", blocked_stage="checker", blocked_category="sexual")
    assert services.preview_job_finish(job_id=job_id, owner="someone-else", outcome=outcome) is False
    assert services.preview_job_finish(job_id=job_id, owner=owner, outcome=outcome) is True
    assert services.preview_job_finish(job_id=job_id, owner=owner, outcome=outcome) is False
    assert services.preview_lease_renew(job_ids=[job_id], owner=owner) is False
    assert PreviewJob.objects.get(pk=job_id).status == "blocked"


def test_reaper_requeues_dead_workers_jobs_and_gives_up_after_max_attempts(
    settings, django_capture_on_commit_callbacks
):
    settings.GATEHOUSE_PREVIEW_MAX_ATTEMPTS = 2
    job_id, owner = _running_job(lease_seconds=-1)  # the worker stopped renewing: it died
    assert services.preview_batch_claim(job_id=job_id, owner="b", max_batch=1)[0].attempts == 2  # expired: reclaimable
    PreviewJob.objects.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.preview_jobs_reap() == []
    job = PreviewJob.objects.get(pk=job_id)
    assert job.status == "failed" and "abandoned after 2 attempts" in job.error and callbacks == []

    job_id, owner = _running_job(lease_seconds=-1, prompt="another")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.preview_jobs_reap() == [job_id]
    assert PreviewJob.objects.get(pk=job_id).status == "queued" and len(callbacks) == 1


def test_reaper_republishes_stale_queued_jobs_and_expires_old_ones(settings, django_capture_on_commit_callbacks):
    job_id, _ = _running_job(lease_seconds=60)
    long_ago = timezone.now() - timedelta(seconds=settings.GATEHOUSE_PREVIEW_REQUEUE_AFTER + 5)
    PreviewJob.objects.filter(pk=job_id).update(status="queued", lease_owner="", enqueued_at=long_ago)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.preview_jobs_reap() == [job_id]
    assert len(callbacks) == 1
    PreviewJob.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(days=1))
    services.preview_jobs_reap()
    assert PreviewJob.objects.get(pk=job_id).status == "failed"


def _running_job(*, lease_seconds: int, prompt: str = "a cat"):
    from tests.support.builders import UserFactory, make_repo

    user = UserFactory()
    repo = make_repo(user, f"m{PreviewJob.objects.count()}")
    job = PreviewJob.objects.create(
        repo=repo,
        commit_oid="0" * 40,
        request_key=prompt + str(lease_seconds),
        batch_key="b",
        params=preview_body(prompt=prompt),
        sld_preset="off",
        status="running",
        attempts=1,
        lease_owner="a",
        lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds),
    )
    return job.pk, "a"
