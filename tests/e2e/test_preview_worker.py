"""Request -> real Celery worker process on Redis -> image, on the CPU with the tiny pipeline."""

import io

import pytest
from PIL import Image

from tests.e2e.conftest import wait_for
from tests.support.builders import make_repo, token_for
from tests.support.previews import request_preview
from workers.models import PreviewJob, SafetyVerdict

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker", "e2e_settings")]
TIMEOUT = 90


def finished(client, token, data) -> dict:
    def poll():
        status = client.get(data["apiUrl"], HTTP_AUTHORIZATION=f"Bearer {token}").json()
        return status if status["status"] not in ("queued", "running") else None

    return wait_for(poll, timeout=TIMEOUT, what=f"preview {data['id']} to finish")


def image_bytes(client, token, data) -> bytes:
    response = client.get(data["imageUrl"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return b"".join(response.streaming_content)


def test_request_to_image_and_same_seed_same_image(client, alice, sd_repo):
    token = token_for(alice)
    done = finished(client, token, request_preview(client, alice, seed=11))
    assert done["status"] == "succeeded", done
    first = image_bytes(client, token, done)
    assert Image.open(io.BytesIO(first)).size == (64, 64)
    assert done["timings"]["denoise_ms"] > 0

    reused = request_preview(client, alice, seed=11)
    assert reused["reused"] is True and reused["status"] == "succeeded"

    PreviewJob.objects.all().delete()  # forget the result: the worker renders it again
    again = finished(client, token, request_preview(client, alice, seed=11))
    assert again["reused"] is False and image_bytes(client, token, again) == first
    other = finished(client, token, request_preview(client, alice, seed=12))
    assert image_bytes(client, token, other) != first


def test_prompt_screening_blocks_before_any_compute(client, alice, sd_repo):
    data = request_preview(client, alice, prompt="a gory scene")
    assert data["status"] == "blocked" and data["safety"]["blocked"]["stage"] == "prompt"
    job = PreviewJob.objects.get()
    assert job.attempts == 0 and job.started_at is None  # no worker ever claimed it
    assert list(SafetyVerdict.objects.values_list("stage", "outcome")) == [("prompt", "blocked")]


def test_safe_latent_diffusion_path_runs_in_the_worker(client, alice, sd_repo):
    token = token_for(alice)
    response = client.put(
        "/api/models/alice/tiny-sd/preview-settings",
        data={"sld_preset": "max"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    done = finished(client, token, request_preview(client, alice, seed=3, num_inference_steps=3))
    assert done["status"] == "succeeded" and done["safety"]["sld_preset"] == "max"
    guidance = SafetyVerdict.objects.get(stage="guidance", attempt=1)
    assert guidance.outcome == "applied" and guidance.detail["preset"] == "max" and guidance.detail["scale"] == 5000


def test_a_broken_job_fails_cleanly_and_the_worker_keeps_serving(client, alice, sd_repo, tiny_sd_files):
    """Jobs that slipped past the API checks (here: pickled weights, out-of-range steps) end as
    failed with a message; the worker survives and renders the next preview."""
    from django.db import transaction

    from workers.services.requests import enqueue

    token = token_for(alice)
    pickled = {k: v for k, v in tiny_sd_files.items() if k != "vae/diffusion_pytorch_model.safetensors"}
    pickled["vae/diffusion_pytorch_model.bin"] = b"\x80\x04pickle"
    repo = make_repo(alice, "pickled", pickled)
    params = {"prompt": "a cat", "negative_prompt": "", "seed": 1, "steps": 2, "guidance_scale": 7.5}
    params.update(width=64, height=64)
    broken = [
        (repo, params),
        (sd_repo, {**params, "steps": 999}),
    ]
    with transaction.atomic():
        jobs = [
            PreviewJob.objects.create(
                repo=target,
                commit_oid=target.refs.get(name="refs/heads/main").commit_oid,
                request_key=f"smuggled-{index}",
                batch_key=f"smuggled-{index}",
                params=job_params,
                sld_preset="off",
            )
            for index, (target, job_params) in enumerate(broken)
        ]
        for job in jobs:
            enqueue(job.pk)
    wait_for(
        lambda: PreviewJob.objects.filter(status__in=["queued", "running"]).count() == 0,
        timeout=TIMEOUT,
        what="the broken jobs to finish",
    )
    pickled_job, bad_steps = (PreviewJob.objects.get(pk=job.pk) for job in jobs)
    assert pickled_job.status == "failed" and "only pickled weights" in pickled_job.error
    assert bad_steps.status == "failed" and bad_steps.error.startswith("'num_inference_steps' must be")
    assert finished(client, token, request_preview(client, alice, seed=23))["status"] == "succeeded"


@pytest.mark.slow
def test_service_overhead_median_under_100_ms(client, alice, sd_repo):
    """bench/preview_overhead.py's measurement, against this module's worker (goal from issue 6).
    Slow-marked: a timing goal, meaningless on a host whose cores other jobs are saturating."""
    from bench.preview_overhead import THRESHOLD_MS, measure, summary

    token = token_for(alice)
    measure(client, token, "alice/tiny-sd", count=2, first_seed=500)  # warm the worker's pipeline cache
    result = summary(measure(client, token, "alice/tiny-sd", count=10, first_seed=600))
    print(f"\npreview overhead on CPU: {result}")
    assert result["median_overhead_ms"] < THRESHOLD_MS, result
