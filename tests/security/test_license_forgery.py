"""Issue 14, two High findings about licenses.

1. A pull request's own license text satisfied the license gate: a user with no rights opened a
   PR keeping the RAIL id but changing (or, on an opt-in repo, deleting) LICENSE, accepted that
   text with `revision=refs/pr/N` and downloaded the weights at refs/pr/N; it kept working after
   the PR was closed, a third user could reuse the text, and the author's acknowledgment log
   showed the forged acceptance as legitimate. Now a contributed revision is judged under its
   base branch's license, and a text that was only ever on a pull request cannot be accepted.
2. `license_link` read any file (a gated config.json, a withheld file) and showed it to anyone.
   Now it names only a license file, and the card of refs/pr/N does not redefine the license.
"""

import base64
import hashlib
import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.test import Client
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError

from gating import release
from licenses.models import Acknowledgment, LicenseText
from licenses.services import repo_license_settings_update
from registry import services
from registry.models import Commit, Ref
from registry.selectors import is_contributed, resolve_revision
from tests.support.builders import UserFactory, make_repo, token_for
from tests.support.previews import *  # noqa: F401,F403 - fixtures (the tiny pipeline, preview settings)
from tests.support.previews import preview_body
from workers.models import PreviewJob

RAIL_CARD = b"---\nlicense: creativeml-openrail-m\nlibrary_name: diffusers\n---\n# Tiny RAIL model\n"
LICENSE_TEXT = b"CreativeML Open RAIL-M\n\nThe real terms. Use-based restrictions: see Attachment A.\n"
FORGED = b"CreativeML Open RAIL-M\n\nForged terms: no restrictions at all.\n"
CONFIG = b'{"hidden_size": 8}'
WEIGHTS = bytes(range(256)) * 40  # LFS by the default .gitattributes
V_REAL, V_FORGED = hashlib.sha256(LICENSE_TEXT).hexdigest(), hashlib.sha256(FORGED).hexdigest()


def _auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _accept(token: str, repo_id: str, version: str, revision: str | None = None):
    body = {"version": version} | ({"revision": revision} if revision else {})
    return Client().post(f"/api/models/{repo_id}/license/accept", body, content_type="application/json", **_auth(token))


def _license(repo_id: str, revision: str, token: str | None = None) -> dict:
    response = Client().get(f"/api/models/{repo_id}/license", {"revision": revision}, **(_auth(token) if token else {}))
    assert response.status_code == 200, response.content
    return response.json()


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ndjson_pr(token: str, repo_id: str, path: str, data: bytes):
    header = {"key": "header", "value": {"summary": "Clarify the license"}}
    file = {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}
    body = b"".join(json.dumps(line).encode() + b"\n" for line in (header, file))
    return Client().post(
        f"/api/models/{repo_id}/commit/main?create_pr=1",
        data=body,
        content_type="application/x-ndjson",
        **_auth(token),
    )


def _downloads_refused(user, token: str, repo_id: str, revision: str, tmp_path) -> None:
    """Every way to the weights at `revision`: the real client, /resolve, Xet, the blob page."""
    for path in ("config.json", "model.safetensors"):
        with pytest.raises(GatedRepoError):
            hf_hub_download(repo_id, path, revision=revision, token=token, cache_dir=str(tmp_path / revision[-8:]))
        assert Client().get(f"/{repo_id}/resolve/{revision}/{path}", **_auth(token)).status_code == 403
    assert Client().get(f"/api/models/{repo_id}/xet-read-token/{revision}", **_auth(token)).status_code == 403
    blob = _browser(user).get(f"/{repo_id}/blob/{revision}/config.json")
    assert blob.status_code == 200 and "hidden_size" not in blob.content.decode()


@pytest.fixture
def mallory(db):
    return UserFactory(username="mallory")


@pytest.fixture
def rail(alice):
    files = {"README.md": RAIL_CARD, "LICENSE": LICENSE_TEXT, "config.json": CONFIG, "model.safetensors": WEIGHTS}
    return make_repo(alice, "rail", files)


def _open_forged_pr(token: str, repo_id: str, operations) -> tuple[str, str]:
    info = HfApi(token=token).create_commit(
        repo_id, operations=operations, commit_message="Clarify the license", create_pr=True
    )
    return info.pr_revision, info.oid


@pytest.mark.django_db(transaction=True)
def test_a_pull_requests_license_text_never_satisfies_the_gate(hub, alice, mallory, rail, tmp_path):
    token = token_for(mallory)
    pr_ref, pr_commit = _open_forged_pr(token, "alice/rail", [CommitOperationAdd("LICENSE", FORGED)])
    assert pr_ref == "refs/pr/1"

    # The PR's license page and API show the base branch's license, not the PR's text.
    shown = _license("alice/rail", pr_ref, token)
    assert shown["version"] == V_REAL and shown["text"] == LICENSE_TEXT.decode()
    assert shown["contributedRevision"] is True and shown["revision"] == resolve_revision(rail, "main").commit_oid
    page = _browser(mallory).get("/alice/rail/license", {"revision": pr_ref}).content.decode()
    assert "Forged terms" not in page and V_REAL in page

    # Accepting the forged text is refused, by the PR's ref, its commit id, or the default branch.
    for revision in (pr_ref, pr_commit, None):
        refused = _accept(token, "alice/rail", V_FORGED, revision)
        assert refused.status_code == 400, (revision, refused.content)
        assert "never the license text" in refused.json()["error"]
    assert not Acknowledgment.objects.exists()

    # The weights stay locked at the PR's ref and commit, as at main.
    for revision in (pr_ref, pr_commit, "main"):
        _downloads_refused(mallory, token, "alice/rail", revision, tmp_path)

    # Closed, the PR's revision is still judged under main's license.
    closed = Client().post(
        "/api/models/alice/rail/discussions/1/status",
        {"status": "closed"},
        content_type="application/json",
        **_auth(token),
    )
    assert closed.status_code == 200, closed.content
    assert _accept(token, "alice/rail", V_FORGED, pr_ref).status_code == 400
    _downloads_refused(mallory, token, "alice/rail", pr_ref, tmp_path / "closed")

    # A third user cannot reuse the PR's text either.
    carol_user = UserFactory(username="carol")
    carol = token_for(carol_user)
    for revision in (pr_ref, pr_commit, None):
        assert _accept(carol, "alice/rail", V_FORGED, revision).status_code == 400
    _downloads_refused(carol_user, carol, "alice/rail", pr_ref, tmp_path / "carol")

    # The author's acknowledgment log shows no acceptance at all.
    log = Client().get("/api/models/alice/rail/license/acknowledgments", **_auth(token_for(alice)))
    assert log.status_code == 200 and log.json() == []

    # What does work: accepting the text a writer put in force, which then covers the PR too.
    accepted = _accept(token, "alice/rail", V_REAL, pr_ref)
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["revision"] == resolve_revision(rail, "main").commit_oid
    path = hf_hub_download("alice/rail", "config.json", revision=pr_ref, token=token, cache_dir=str(tmp_path / "ok"))
    with open(path, "rb") as file:
        assert file.read() == CONFIG
    assert [ack.version for ack in Acknowledgment.objects.all()] == [V_REAL]


@pytest.mark.django_db(transaction=True)
def test_deleting_license_on_an_opt_in_repo_does_not_open_the_pull_request(hub, alice, mallory, tmp_path):
    card = b"---\nlicense: other\nlicense_name: acme-model-terms\n---\n# Opt-in\n"
    repo = make_repo(
        alice,
        "optin",
        {"README.md": card, "LICENSE": LICENSE_TEXT, "config.json": CONFIG, "model.safetensors": WEIGHTS},
    )
    repo_license_settings_update(repo=repo, require_acknowledgment=True)
    token = token_for(mallory)
    new_card = CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# Opt-in\n")
    pr_ref, pr_commit = _open_forged_pr(token, "alice/optin", [CommitOperationDelete("LICENSE"), new_card])

    shown = _license("alice/optin", pr_ref, token)
    assert shown["version"] == V_REAL and shown["license"] == "other"
    pr_own_text = Client().get("/api/licenses/mit").json()["text"]
    for revision in (pr_ref, pr_commit):
        assert (
            _accept(token, "alice/optin", hashlib.sha256(pr_own_text.encode()).hexdigest(), revision).status_code == 400
        )
        _downloads_refused(mallory, token, "alice/optin", revision, tmp_path)
    assert not Acknowledgment.objects.exists()


@pytest.mark.django_db
def test_a_writer_pointing_a_branch_at_a_pull_request_commit_puts_it_in_force(alice, mallory, rail):
    token = token_for(mallory)
    created = _ndjson_pr(token, "alice/rail", "LICENSE", FORGED)
    assert created.status_code == 200, created.content
    pr_commit = Ref.objects.get(repo=rail, name="refs/pr/1").commit_oid
    assert Commit.objects.get(repo=rail, oid=pr_commit).made_on_pull_request
    assert is_contributed(rail, resolve_revision(rail, pr_commit))
    assert not is_contributed(rail, resolve_revision(rail, "main"))

    services.branch_create(repo=rail, branch="adopted", starting_point="refs/pr/1")
    assert not is_contributed(rail, resolve_revision(rail, pr_commit))
    assert not is_contributed(rail, resolve_revision(rail, "adopted"))
    assert _license("alice/rail", "adopted", token)["version"] == V_FORGED
    assert _accept(token, "alice/rail", V_FORGED, "adopted").status_code == 201


@pytest.mark.django_db
def test_older_installs_mark_commits_no_branch_or_tag_reaches(alice, mallory, rail):
    from community.services import pull_request_open

    pull = pull_request_open(repo=rail, author=mallory, title="t", description="d", draft=False)
    services.commit_create(
        repo=rail,
        branch=pull.ref_name,
        ref_name=pull.ref_name,
        author=mallory,
        summary="forge",
        operations=[services.blob_stage(repo=rail, path="LICENSE", content=FORGED, gitattributes="", proof_from=None)],
    )
    Commit.objects.filter(repo=rail).update(made_on_pull_request=False)  # as older versions left them
    migration = importlib.import_module("registry.migrations.0011_commit_made_on_pull_request")
    migration.mark_pull_request_commits(django_apps, None)
    marked = set(Commit.objects.filter(repo=rail, made_on_pull_request=True).values_list("oid", flat=True))
    assert marked == {Ref.objects.get(repo=rail, name=pull.ref_name).commit_oid}


def _linked(alice, name: str, link: str, extra: dict | None = None):
    card = f"---\nlicense: other\nlicense_name: acme\nlicense_link: {link}\n---\n# x\n".encode()
    return make_repo(
        alice, name, {"README.md": card, "config.json": CONFIG, "secret.txt": b"withheld words\n", **(extra or {})}
    )


@pytest.mark.django_db
@pytest.mark.parametrize("link", ["config.json", "./secret.txt", "model.safetensors"])
def test_license_link_reads_no_gated_or_withheld_file(alice, link):
    repo = _linked(alice, "linked", link, {"model.safetensors": WEIGHTS})
    services.repo_settings_update(repo=repo, gated="manual")
    release.release_plan_set(
        repo=repo, actor=alice, stages=[release.StageSpec(mode="gated_manual", withheld_patterns=("secret.txt",))]
    )
    stranger = UserFactory()
    for api_client, browser in ((Client(), Client()), (Client(**_auth(token_for(stranger))), _browser(stranger))):
        api = api_client.get("/api/models/alice/linked/license").json()
        page = browser.get("/alice/linked/license").content.decode()
        for body in (api["text"], page):
            assert "hidden_size" not in body and "withheld words" not in body
        assert api["location"] != f"{link.removeprefix('./')}@{api['revision']}"


@pytest.mark.django_db
def test_a_pull_requests_card_does_not_redefine_the_license_page(alice, mallory):
    _linked(alice, "plain", "LICENSE.md", {"LICENSE.md": b"ACME terms\n"})
    token = token_for(mallory)
    card = b"---\nlicense: other\nlicense_name: acme\nlicense_link: config.json\n---\n# x\n"
    created = _ndjson_pr(token, "alice/plain", "README.md", card)
    assert created.status_code == 200, created.content
    for api_client, browser in ((Client(), Client()), (Client(**_auth(token)), _browser(mallory))):
        shown = api_client.get("/api/models/alice/plain/license", {"revision": "refs/pr/1"}).json()
        assert shown["text"] == "ACME terms\n" and shown["location"].startswith("LICENSE.md@")
        page = browser.get("/alice/plain/license", {"revision": "refs/pr/1"}).content.decode()
        assert "hidden_size" not in page and "ACME terms" in page


@pytest.mark.django_db
def test_a_license_file_the_release_stage_withholds_is_not_shown(alice, bob):
    repo = _linked(alice, "staged", "LICENSE", {"LICENSE": b"Staged terms\n"})
    repo_license_settings_update(repo=repo, require_acknowledgment=True)
    release.release_plan_set(
        repo=repo, actor=alice, stages=[release.StageSpec(mode="public", withheld_patterns=("LICENSE",))]
    )
    shown = Client().get("/api/models/alice/staged/license", **_auth(token_for(bob))).json()
    assert shown["textWithheld"] is True and "Staged terms" not in shown["text"]
    page = _browser(bob).get("/alice/staged/license").content.decode()
    assert "Staged terms" not in page and 'data-testid="accept-form"' not in page
    owner = Client().get("/api/models/alice/staged/license", **_auth(token_for(alice))).json()
    assert owner["text"] == "Staged terms\n"


@pytest.mark.django_db
def test_a_forged_acceptance_recorded_by_older_versions_opens_nothing_and_the_log_says_so(alice, mallory, rail):
    created = _ndjson_pr(token_for(mallory), "alice/rail", "LICENSE", FORGED)
    assert created.status_code == 200, created.content
    pr_commit = Ref.objects.get(repo=rail, name="refs/pr/1").commit_oid
    text = LicenseText.objects.create(sha256=V_FORGED, text=FORGED.decode())
    Acknowledgment.objects.create(  # what the old code recorded for the attack
        user=mallory,
        repo=rail,
        license_id="creativeml-openrail-m",
        text=text,
        commit_oid=pr_commit,
        location=f"LICENSE@{pr_commit}",
        source="api",
    )

    token = token_for(mallory)
    for revision in ("refs/pr/1", pr_commit):
        assert Client().get(f"/alice/rail/resolve/{revision}/config.json", **_auth(token)).status_code == 403
    log = Client().get("/api/models/alice/rail/license/acknowledgments", **_auth(token_for(alice))).json()
    assert [(row["user"], row["inForce"]) for row in log] == [("mallory", False)]
    csv = _browser(alice).get("/alice/rail/license/acknowledgments?export=csv").content.decode().splitlines()
    assert csv[0].endswith(",inForce") and csv[1].endswith(",false")
    assert (
        'data-testid="ack-not-in-force"' in _browser(alice).get("/alice/rail/license/acknowledgments").content.decode()
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("preview_settings")
def test_previews_at_a_pull_request_wait_for_the_base_license(alice, mallory, tiny_sd_files):
    card = b"---\nlicense: creativeml-openrail-m\nlibrary_name: diffusers\n---\n# RAIL\n"
    make_repo(alice, "rail-sd", {**tiny_sd_files, "README.md": card, "LICENSE": LICENSE_TEXT})
    token = token_for(mallory)
    assert _ndjson_pr(token, "alice/rail-sd", "LICENSE", FORGED).status_code == 200
    assert _accept(token, "alice/rail-sd", V_FORGED, "refs/pr/1").status_code == 400
    body = preview_body() | {"revision": "refs/pr/1"}
    response = Client().post(
        "/api/models/alice/rail-sd/previews", body, content_type="application/json", **_auth(token)
    )
    assert response.status_code == 403 and "license" in response.json()["error"]
    assert not PreviewJob.objects.exists()
