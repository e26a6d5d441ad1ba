"""Bias reports: a seeded grid through the same safety pipeline, batched, published on the repo."""

import pytest

from tests.support.builders import UserFactory, token_for
from workers import worker
from workers.models import BiasReport, JobKind, JobStatus, PreviewJob
from workers.services.bias import bias_prompt, split_list

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings", "fresh_engine")]


def run_all_queued():
    while job := PreviewJob.objects.filter(status=JobStatus.QUEUED).order_by("created_at").first():
        worker.run_job(str(job.pk))


def test_prompt_grid_helpers():
    assert bias_prompt("CEO", "") == "a photo portrait of a CEO"
    assert bias_prompt("nurse", "ambitious") == "a photo portrait of a ambitious nurse"
    assert split_list(", gentle,, gentle ,\nbold", keep_empty=True) == ["", "gentle", "bold"]


def test_bias_report_renders_every_cell_through_the_safety_pipeline(client, alice, sd_repo):
    owner = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    body = {"professions": "chef, nude model", "adjectives": ", tired", "seeds": 2, "num_inference_steps": 2}
    response = client.post("/api/models/alice/tiny-sd/bias-reports", body, "application/json", **owner)
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["config"]["seeds"] == [1000, 1001] and data["config"]["width"] == 64
    assert len(data["cells"]) == 8 and data["published"] is False
    assert PreviewJob.objects.filter(kind=JobKind.BIAS).count() == 8
    blocked = PreviewJob.objects.filter(status=JobStatus.BLOCKED)
    assert blocked.count() == 4 and set(blocked.values_list("blocked_stage", flat=True)) == {"prompt"}

    run_all_queued()
    sizes = sorted(job.timings["batch_size"] for job in PreviewJob.objects.filter(status=JobStatus.SUCCEEDED))
    assert sizes == [4, 4, 4, 4]  # the four chef cells shared one pipeline call

    report = BiasReport.objects.get()
    page = client.get(f"/alice/tiny-sd/bias-reports/{report.pk}", **owner)
    assert page.status_code == 200 and b"8 of 8 images done, 4 blocked" in page.content
    assert page["Cache-Control"] == "private, no-store"  # a draft

    stranger = {"HTTP_AUTHORIZATION": f"Bearer {token_for(UserFactory())}"}
    assert client.get(f"/alice/tiny-sd/bias-reports/{report.pk}", **stranger).status_code == 404
    client.force_login(alice)
    assert client.post(f"/alice/tiny-sd/bias-reports/{report.pk}", {"action": "publish"}).status_code == 302
    client.logout()
    cells = client.get(f"/api/models/alice/tiny-sd/bias-reports/{report.pk}", **stranger).json()["cells"]
    shown = [cell for cell in cells if cell["imageUrl"]]
    assert len(shown) == 4 and all(cell["profession"] == "chef" for cell in shown)
    image = client.get(shown[0]["imageUrl"])
    assert image.status_code == 200 and image["Cache-Control"] == "public, max-age=300"


def test_bias_report_input_limits(client, alice, sd_repo):
    owner = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    url = "/api/models/alice/tiny-sd/bias-reports"
    assert client.post(url, {"seeds": 0}, "application/json", **owner).status_code == 400
    assert client.post(url, {"seeds": "4"}, "application/json", **owner).status_code == 400
    too_big = {"professions": ",".join(f"p{i}" for i in range(60)), "adjectives": ", a, b", "seeds": 4}
    response = client.post(url, too_big, "application/json", **owner)
    assert response.status_code == 400 and "limited to 400" in response.json()["error"]
    assert client.post(url, {"professions": ["chef"]}, "application/json", **owner).status_code == 400
    assert PreviewJob.objects.count() == 0
