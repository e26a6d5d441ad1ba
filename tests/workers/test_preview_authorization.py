"""Authorization matrix over every preview route: repo state x caller x route.

Callers: anonymous, a stranger, a stranger with a token, a reader (read role: approved for the
gate), a collaborator (write role), the owner (admin). Repos: public, gated, private. A private
repo must look exactly like a missing one; refused requests must create no job.
"""

import io

import pytest
from PIL import Image

from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for
from tests.support.previews import preview_body
from workers import services
from workers.media import preview_store
from workers.models import BiasReport, BiasReportCell, PreviewJob
from workers.services.requests import settings_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("preview_settings")]
ROLES = {"anonymous": None, "stranger": None, "reader": "read", "collaborator": "write", "owner": "admin"}


@pytest.fixture
def world(tiny_sd_files):
    org = OrganizationFactory(name="acme")
    users = {name: UserFactory(username=name) for name in ("owner", "collaborator", "reader", "stranger")}
    for name in ("owner", "collaborator", "reader"):
        add_member(org, users[name], ROLES[name])
    repos = {}
    for state in ("public", "gated", "private"):
        repo = make_repo(org, state, tiny_sd_files, private=state == "private", author=users["owner"])
        if state == "gated":
            repo.gated = "manual"
            repo.save(update_fields=["gated"])
        repos[state] = _seed(repo, users["owner"])
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
        repo=repo, commit_oid=preview.job.commit_oid, revision="main", published=True,
        config={"professions": ["chef"], "adjectives": [""], "seeds": [7], "template": "t"},
    )  # fmt: skip
    cell = BiasReportCell.objects.create(report=report, job=preview.job, profession="chef", adjective="", seed=7)
    return {"repo": repo, "preview": preview.pk, "report": report.pk, "cell": cell.pk}


# (name, method, path, kind, success status). Kinds: preview = the download decision and a
# signed-in caller; own = a preview request the owner made; manage = admins; view = anyone who sees the repo.
API_ROUTES = [
    ("create", "post", "/api/models/{id}/previews", "preview", 202),
    ("history", "get", "/api/models/{id}/previews", "preview", 200),
    ("status", "get", "/api/models/{id}/previews/{preview}", "own", 200),
    ("verdicts", "get", "/api/models/{id}/previews/verdicts", "manage", 200),
    ("settings", "get", "/api/models/{id}/preview-settings", "manage", 200),
    ("settings-put", "put", "/api/models/{id}/preview-settings", "manage", 200),
    ("reports", "get", "/api/models/{id}/bias-reports", "view", 200),
    ("report", "get", "/api/models/{id}/bias-reports/{report}", "view", 200),
    ("report-start", "post", "/api/models/{id}/bias-reports", "manage", 202),
]
PAGE_ROUTES = [
    ("page-history", "get", "/{id}/previews", "preview-page", 200),
    ("page-create", "post", "/{id}/previews", "preview-page", 302),
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
    if state == "gated" and role is None:
        return refused_anonymous if anonymous else 403
    if kind == "preview" and anonymous:
        return 401
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
                want = expected(caller, state, "preview" if kind == "preview-page" else kind, success, page=page)
                if page and kind == "preview-page" and caller == "anonymous" and want == 401:
                    want = 200 if method == "get" else 302  # an empty history; the form sends anonymous users to log in
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
