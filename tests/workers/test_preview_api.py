"""The preview API: requests, validation, reuse, prompt screening, limits. No worker runs here."""

import pytest
from huggingface_hub.utils import parse_ratelimit_headers

from tests.support.builders import UserFactory, commit_files, make_repo, token_for
from tests.support.previews import preview_body
from workers.models import JobStatus, PreviewJob, PreviewRequest, SafetyVerdict

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings")]


def post(client, user, repo_id="alice/tiny-sd", **body):
    return client.post(
        f"/api/models/{repo_id}/previews",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(user, role='read')}",
    )


def test_request_returns_at_once_queued_and_is_published_after_commit(
    client, alice, sd_repo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, alice, **preview_body())
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["status"] == "queued" and data["reused"] is False and data["imageUrl"] is None
    assert data["params"] == {
        "prompt": "a photo of a cat",
        "negative_prompt": "",
        "seed": 7,
        "num_inference_steps": 2,
        "guidance_scale": 7.5,
        "width": 64,
        "height": 64,
    }
    assert data["commit"] == sd_repo.refs.get(name="refs/heads/main").commit_oid
    assert response["Location"] == f"/api/models/alice/tiny-sd/previews/{data['id']}"
    assert len(callbacks) == 1  # the task is published only once the job row is committed
    detail = client.get(data["apiUrl"], HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert detail.status_code == 200 and detail.json()["id"] == data["id"]
    assert detail["Cache-Control"] == "private, no-store"


def test_identical_requests_reuse_one_job_and_defaults_follow_the_model(client, alice, bob, sd_repo):
    first = post(client, alice, prompt="a cat", seed=1).json()
    second = post(client, bob, prompt="a cat", seed=1, revision=first["commit"]).json()
    assert second["reused"] is True and second["id"] != first["id"]
    assert PreviewJob.objects.count() == 1 and PreviewRequest.objects.count() == 2
    assert (first["params"]["width"], first["params"]["num_inference_steps"]) == (64, 20)  # native side of tiny-sd
    third = post(client, alice, prompt="a cat").json()  # no seed: a random one, a new job
    assert third["reused"] is False and isinstance(third["params"]["seed"], int)


def test_blocked_prompt_is_blocked_before_any_compute(client, alice, sd_repo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, alice, **preview_body(prompt="a NUDE statue"))
    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "blocked"
    assert data["safety"]["blocked"]["stage"] == "prompt" and data["safety"]["blocked"]["category"] == "sexual"
    assert "prompt screening" in data["safety"]["blocked"]["message"]
    assert callbacks == []  # nothing queued
    verdict = SafetyVerdict.objects.get()
    assert (verdict.stage, verdict.outcome, verdict.detail) == ("prompt", "blocked", {"phrase": "nude"})


def test_author_blocked_concepts_add_to_the_operators(client, alice, sd_repo):
    settings_url = "/api/models/alice/tiny-sd/preview-settings"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    response = client.put(settings_url, {"extra_blocked_concepts": "brands: acme"}, "application/json", **auth)
    assert response.status_code == 200 and response.json()["extra_blocked_concepts"] == "brands: acme"
    assert (
        post(client, alice, **preview_body(prompt="an ACME anvil")).json()["safety"]["blocked"]["category"] == "brands"
    )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (preview_body(num_inference_steps=500), "InvalidParameters", "between 1 and 50"),
        (preview_body(width=4096), "InvalidParameters", "between 64 and 768"),
        (preview_body(prompt="x" * 501), "InvalidParameters", "the limit is 500"),
        (preview_body(output_type="latent"), "InvalidParameters", "Unknown parameters: output_type"),
        (preview_body(guidance_scale=1.0), "InvalidParameters", "must be above 1"),
        (preview_body(revision=7), "BadRequest", "'revision' must be a string"),
    ],
)
def test_bad_input_gets_a_clear_400(client, alice, sd_repo, settings, body, code, message):
    settings.GATEHOUSE_PREVIEW_SLD_MINIMUM = "weak"
    response = post(client, alice, **body)
    assert response.status_code == 400 and response["X-Error-Code"] == code
    assert message in response.json()["error"]
    assert PreviewJob.objects.count() == 0


def test_models_that_are_not_diffusers_pipelines_or_only_pickled_are_refused(client, alice, tiny_sd_files):
    make_repo(alice, "bert", {"config.json": b"{}", "model.safetensors": b"x"})
    response = post(client, alice, "alice/bert", **preview_body())
    assert response.status_code == 400 and response["X-Error-Code"] == "UnsupportedModel"
    assert "no model_index.json" in response.json()["error"]

    pickled = {k: v for k, v in tiny_sd_files.items() if k != "unet/diffusion_pytorch_model.safetensors"}
    pickled["unet/diffusion_pytorch_model.bin"] = b"\x80\x04pickle"
    make_repo(alice, "pickled", pickled)
    response = post(client, alice, "alice/pickled", **preview_body())
    assert response.status_code == 400 and "only pickled weights" in response.json()["error"]
    assert PreviewJob.objects.count() == 0


def test_a_later_commit_that_breaks_the_pipeline_is_refused_but_old_revisions_work(client, alice, sd_repo):
    old = sd_repo.refs.get(name="refs/heads/main").commit_oid
    commit_files(sd_repo, {"model_index.json": b'{"_class_name": "FluxPipeline"}'}, author=alice)
    assert post(client, alice, **preview_body()).status_code == 400
    assert post(client, alice, **preview_body(revision=old)).status_code == 202
    assert post(client, alice, **preview_body(revision="nope")).status_code == 404


def test_rate_limits_answer_429_with_parseable_headers(client, alice, sd_repo, settings):
    settings.GATEHOUSE_PREVIEW_USER_RATE = 2
    assert post(client, alice, **preview_body(seed=1)).status_code == 202
    assert post(client, alice, **preview_body(seed=2, prompt="nude")).status_code == 202  # blocked ones count too
    response = post(client, alice, **preview_body(seed=3))
    assert response.status_code == 429 and response["X-Error-Code"] == "RateLimited"
    assert "You have made 2 preview requests in the last 60 minutes" in response.json()["error"]
    info = parse_ratelimit_headers(response.headers)
    assert info.remaining == 0 and info.limit == 2 and info.reset_in_seconds == int(response["Retry-After"]) > 0
    assert PreviewJob.objects.count() == 2


def test_queue_caps_per_user_and_per_repo(client, alice, bob, sd_repo, settings):
    settings.GATEHOUSE_PREVIEW_USER_QUEUE = 1
    settings.GATEHOUSE_PREVIEW_REPO_QUEUE = 2
    assert post(client, alice, **preview_body(seed=1)).status_code == 202
    response = post(client, alice, **preview_body(seed=2))
    assert response.status_code == 429 and "You have 1 previews queued or running" in response.json()["error"]
    assert post(client, alice, **preview_body(seed=1)).status_code == 202  # a reuse adds no work: allowed
    assert post(client, bob, **preview_body(seed=3)).status_code == 202
    carol = UserFactory(username="carol")
    response = post(client, carol, **preview_body(seed=4))
    assert response.status_code == 429 and "This repo has 2 previews queued or running" in response.json()["error"]
    PreviewJob.objects.update(status=JobStatus.FAILED, error="x")
    assert post(client, carol, **preview_body(seed=4)).status_code == 202


def test_previews_fail_closed_without_a_checker_and_authors_can_turn_them_off(client, alice, sd_repo, settings):
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = ""
    response = post(client, alice, **preview_body())
    assert response.status_code == 503 and response["X-Error-Code"] == "PreviewsUnavailable"
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = "/somewhere"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    client.put("/api/models/alice/tiny-sd/preview-settings", {"enabled": False}, "application/json", **auth)
    response = post(client, alice, **preview_body())
    assert response.status_code == 403 and response["X-Error-Code"] == "PreviewsDisabled"
    assert PreviewJob.objects.count() == 0


def test_settings_validation(client, alice, sd_repo):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    url = "/api/models/alice/tiny-sd/preview-settings"
    assert client.put(url, {"sld_preset": "extreme"}, "application/json", **auth).status_code == 400
    assert client.put(url, {"enabled": "yes"}, "application/json", **auth).status_code == 400
    assert client.put(url, {"colour": "red"}, "application/json", **auth).status_code == 400
    response = client.put(url, {"sld_preset": "max"}, "application/json", **auth)
    assert response.status_code == 200 and response.json()["sld_preset"] == "max"
    assert client.get(url, **auth).json()["sld_preset"] == "max"


def test_previews_of_a_rail_model_wait_for_the_license_acknowledgment(client, alice, bob, tiny_sd_files):
    from licenses.selectors import license_at
    from licenses.services import acknowledgment_record
    from registry.selectors import resolve_revision

    card = b"---\nlicense: creativeml-openrail-m\nlibrary_name: diffusers\n---\n# RAIL\n"
    repo = make_repo(alice, "rail-sd", {**tiny_sd_files, "README.md": card})
    response = post(client, bob, "alice/rail-sd", **preview_body())
    assert response.status_code == 403 and response["X-Error-Code"] == "GatedRepo"
    assert "license" in response.json()["error"] and PreviewJob.objects.count() == 0
    version = license_at(repo, resolve_revision(repo, "main")).version
    acknowledgment_record(user=bob, repo=repo, version=version)
    assert post(client, bob, "alice/rail-sd", **preview_body()).status_code == 202
    assert post(client, alice, "alice/rail-sd", **preview_body(seed=9)).status_code == 202  # the author is exempt
