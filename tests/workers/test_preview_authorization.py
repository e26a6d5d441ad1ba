"""Authorization matrix over every preview route: repo state x caller x route.

Callers: anonymous, a stranger, a pending requester, an approved requester (accepted access
request, no role), a reader (read role), a collaborator (write role), the owner (admin).
Repos: public, gated (manual), private, a release stage withholding the weights, and a gated
stage that makes previews public. A private repo must look exactly like a missing one; refused
requests must create no job.
"""

import io

import pytest
from PIL import Image

from gating import release
from gating.models import AccessRequest
from registry.models import Repo
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for
from tests.support.previews import preview_body
from workers import services
from workers.media import preview_store
from workers.models import BiasReport, BiasReportCell, PreviewJob
from workers.selectors import settings_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings")]
ROLES = {
    "anonymous": None,
    "stranger": None,
    "pending": None,
    "approved": None,
    "reader": "read",
    "collaborator": "write",
    "owner": "admin",
}
STAGES = {
    "public": release.StageSpec(mode="public"),
    "gated": release.StageSpec(mode="gated_manual"),
    "private": release.StageSpec(mode="private"),
    "withheld": release.StageSpec(mode="gated_manual", withheld_patterns=("*.safetensors",)),
    "previews-public": release.StageSpec(mode="gated_manual", previews_public=True),
}


@pytest.fixture
def world(tiny_sd_files):
    org = OrganizationFactory(name="acme")
    users = {name: UserFactory(username=name) for name in ROLES if name != "anonymous"}
    for name in ("owner", "collaborator", "reader"):
        add_member(org, users[name], ROLES[name])
    repos = {}
    for state, stage in STAGES.items():
        repo = make_repo(org, state, tiny_sd_files, author=users["owner"])
        AccessRequest.objects.create(repo=repo, user=users["pending"], status="pending")
        AccessRequest.objects.create(repo=repo, user=users["approved"], status="accepted")
        release.release_plan_set(repo=repo, actor=users["owner"], stages=[stage])
        repos[state] = _seed(Repo.objects.get(pk=repo.pk), users["owner"])
    return users, repos


def _seed(repo, owner):
    """An owner's finished preview and a published bias report with one image."""
    from registry.selectors import resolve_revision

    preview = services.preview_request_create(
        repo=repo, user=owner, resolved=resolve_revision(repo, "main"), data=preview_body()
    )
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    sha = preview_store().put_bytes(buffer.getvalue())
    PreviewJob.objects.filter(pk=preview.job_id).update(status="succeeded", result_sha256=sha)
    report = BiasReport.objects.create(
        repo=repo,
        commit_oid=preview.job.commit_oid,
        revision="main",
        published=True,
        config={"professions": ["chef"], "adjectives": [""], "seeds": [7], "template": "t"},
    )
    cell = BiasReportCell.objects.create(report=report, job=preview.job, profession="chef", adjective="", seed=7)
    return {"repo": repo, "preview": preview.pk, "report": report.pk, "cell": cell.pk}


# (name, method, path, kind, success status). Kinds: create and list = the preview decision and a
# signed-in caller (create also needs the weights the stage may withhold); own = a preview request
# the owner made; manage = admins; view = anyone who sees the repo.
API_ROUTES = [
    ("create", "post", "/api/models/{id}/previews", "create", 202),
    ("history", "get", "/api/models/{id}/previews", "list", 200),
    ("status", "get", "/api/models/{id}/previews/{preview}", "own", 200),
    ("verdicts", "get", "/api/models/{id}/previews/verdicts", "manage", 200),
    ("settings", "get", "/api/models/{id}/preview-settings", "manage", 200),
    ("settings-put", "put", "/api/models/{id}/preview-settings", "manage", 200),
    ("reports", "get", "/api/models/{id}/bias-reports", "view", 200),
    ("report", "get", "/api/models/{id}/bias-reports/{report}", "view", 200),
    ("report-start", "post", "/api/models/{id}/bias-reports", "manage", 202),
]
PAGE_ROUTES = [
    ("page-history", "get", "/{id}/previews", "list", 200),
    ("page-create", "post", "/{id}/previews", "create", 302),
    ("page-preview", "get", "/{id}/previews/{preview}", "own", 200),
    ("image", "get", "/{id}/previews/{preview}/image", "own", 200),
    ("page-settings", "get", "/{id}/previews/settings", "manage", 200),
    ("page-settings-post", "post", "/{id}/previews/settings", "manage", 302),
    ("page-reports", "get", "/{id}/bias-reports", "view", 200),
    ("page-report", "get", "/{id}/bias-reports/{report}", "view", 200),
    ("bias-image", "get", "/{id}/bias-reports/{report}/images/{cell}", "view", 200),
]


def expected(caller: str, state: str, kind: str, success: int, *, page: bool) -> int:
    role = ROLES[caller]
    anonymous = caller == "anonymous"
    refused_anonymous = 404 if page else 401  # pages render 401s as the not-found page
    if state == "private" and role is None:
        return refused_anonymous if anonymous else 404
    if kind == "view":
        return success
    if kind == "manage":
        if anonymous:
            return refused_anonymous
        return success if role == "admin" else 403
    if state in ("gated", "withheld") and role is None and caller != "approved":
        return refused_anonymous if anonymous else 403
    if anonymous and kind in ("create", "list"):  # an account is needed (pages: empty history, log-in redirect)
        return {"list": 200, "create": 302}[kind] if page else 401
    if kind == "create" and state == "withheld" and role is None:
        return 403  # approved, but this stage still withholds the weights
    if kind == "own" and role != "admin":
        return 404
    return success


def call(client, method, path, user):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(user, role='write')}"} if user else {}
    if method == "get":
        return client.get(path, **headers)
    if path.startswith("/api/"):
        body = {} if "settings" in path else preview_body(seed=99)
        if "bias-reports" in path:
            body = {"professions": "chef", "adjectives": "", "seeds": 1, "num_inference_steps": 2, "side": 64}
        return getattr(client, method)(path, data=body, content_type="application/json", **headers)
    if user:
        client.force_login(user)
    form = {"prompt": "a cat", "seed": "99", "num_inference_steps": "2", "enabled": "on", "sld_preset": "medium"}
    response = client.post(path, data=form)
    client.logout()
    return response


def _walk(client, world, routes, *, page: bool):
    users, repos = world
    mismatches = []
    for state, seeded in repos.items():
        for caller in ROLES:
            user = users.get(caller)
            for name, method, template, kind, success in routes:
                path = template.format(id=seeded["repo"].repo_id, **{k: v for k, v in seeded.items() if k != "repo"})
                if page and user and method == "get":
                    client.force_login(user)
                jobs_before = PreviewJob.objects.count()
                response = call(client, method, path, user if not (page and method == "get") else None)
                client.logout()
                want = expected(caller, state, kind, success, page=page)
                if response.status_code != want:
                    mismatches.append((state, caller, name, response.status_code, want))
                if response.status_code >= 400 and PreviewJob.objects.count() != jobs_before:
                    mismatches.append((state, caller, name, "created a job while refusing"))
    return mismatches


def test_api_matrix(client, world):
    assert _walk(client, world, API_ROUTES, page=False) == []


def test_page_matrix(client, world):
    assert _walk(client, world, PAGE_ROUTES, page=True) == []


def test_private_preview_routes_look_exactly_like_missing_ones(client, world):
    users, repos = world
    seeded = repos["private"]
    stranger = {"HTTP_AUTHORIZATION": f"Bearer {token_for(users['stranger'])}"}
    for suffix in ("previews", f"previews/{seeded['preview']}", "preview-settings", "bias-reports"):
        hidden = client.get(f"/api/models/acme/private/{suffix}", **stranger)
        missing = client.get(f"/api/models/acme/nothing-here/{suffix}", **stranger)
        assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, missing.content)
        assert hidden["X-Error-Code"] == missing["X-Error-Code"] == "RepoNotFound"


def test_unpublished_reports_and_other_users_previews_stay_hidden(client, world):
    users, repos = world
    seeded = repos["public"]
    BiasReport.objects.filter(pk=seeded["report"]).update(published=False)
    stranger = {"HTTP_AUTHORIZATION": f"Bearer {token_for(users['stranger'])}"}
    assert client.get(f"/api/models/acme/public/bias-reports/{seeded['report']}", **stranger).status_code == 404
    assert client.get("/api/models/acme/public/bias-reports", **stranger).json() == []
    owner = {"HTTP_AUTHORIZATION": f"Bearer {token_for(users['owner'])}"}
    assert len(client.get("/api/models/acme/public/bias-reports", **owner).json()) == 1
    image = client.get(f"/acme/public/bias-reports/{seeded['report']}/images/{seeded['cell']}", **stranger)
    assert image.status_code == 404
    assert client.get(f"/acme/public/previews/{seeded['preview']}/image", **stranger).status_code == 404


def test_results_are_rechecked_when_served(client, world):
    """Access revoked after the preview was made: the image is no longer served."""
    users, repos = world
    seeded = repos["public"]
    reader = users["reader"]
    from registry.selectors import resolve_revision

    mine = services.preview_request_create(
        repo=seeded["repo"], user=reader, resolved=resolve_revision(seeded["repo"], "main"), data=preview_body(seed=5)
    )
    PreviewJob.objects.filter(pk=mine.job_id).update(status="succeeded", result_sha256="a" * 64)
    url = f"/acme/public/previews/{mine.pk}"
    client.force_login(reader)
    assert client.get(url).status_code == 200
    seeded["repo"].gated = "manual"
    seeded["repo"].save(update_fields=["gated"])
    reader.memberships.all().delete()
    assert client.get(url + "/image").status_code == 403
    assert client.get(f"/api/models/acme/public/previews/{mine.pk}").status_code == 403
    assert settings_for(seeded["repo"]).enabled


def test_withholding_the_weights_later_closes_an_approved_users_results(client, world):
    users, repos = world
    seeded, approved = repos["gated"], users["approved"]
    from registry.selectors import resolve_revision

    mine = services.preview_request_create(
        repo=seeded["repo"], user=approved, resolved=resolve_revision(seeded["repo"], "main"), data=preview_body(seed=6)
    )
    PreviewJob.objects.filter(pk=mine.job_id).update(status="succeeded", result_sha256="b" * 64)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(approved)}"}
    assert client.get(f"/api/models/acme/gated/previews/{mine.pk}", **auth).status_code == 200
    release.release_plan_set(repo=seeded["repo"], actor=users["owner"], stages=[STAGES["withheld"]])
    refused = client.get(f"/api/models/acme/gated/previews/{mine.pk}", **auth)
    assert refused.status_code == 403 and refused["X-Error-Code"] == "GatedRepo"
    assert "withheld" in refused.json()["error"]
    assert client.get(f"/acme/gated/previews/{mine.pk}/image", **auth).status_code == 403
