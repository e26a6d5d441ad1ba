"""The authorization matrix (STYLE.md) for gating: every caller against resolve, tree, info, the
portal repo page, file tree and file view, for each gate mode and release stage.

For each cell: the status and error code; the body leaks nothing it should not (file bytes,
notes); refusals of a hidden repo are byte-for-byte those of a missing repo; no download is
counted for a refusal; no email is sent by any of it.
"""

import re

import pytest
from django.test import Client

from gating import services
from gating.services import StageSpec
from registry.models import Repo
from registry.services import repo_settings_update
from tests.gating.conftest import NOTES_SECRET, WEIGHTS_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = ("anonymous", "stranger", "pending", "approved", "collaborator", "owner")
HAS_ROLE = {"collaborator", "owner"}
ENDPOINTS = {
    "resolve_config": "/acme/diffusion/resolve/main/config.json",
    "resolve_weights": "/acme/diffusion/resolve/main/model.safetensors",
    "tree": "/api/models/acme/diffusion/tree/main",
    "info": "/api/models/acme/diffusion",
    "page": "/acme/diffusion",
    "tree_page": "/acme/diffusion/tree/main",
    "blob": "/acme/diffusion/blob/main/notes.txt",
}
PORTAL = {"page", "tree_page", "blob"}
GATED = {"auto", "manual", "manual_withheld"}
WITHHELD = {"manual_withheld", "public_withheld"}


def set_scenario(repo, owner, scenario: str) -> None:
    """Gate modes set directly; stages set through a release plan advanced by hand."""
    if scenario in ("off", "auto", "manual"):
        repo_settings_update(repo=repo, gated=scenario if scenario != "off" else False)
        return
    stage = {
        "manual_withheld": StageSpec(mode="manual", withheld_patterns=["*.safetensors"]),
        "public_withheld": StageSpec(mode="public", withheld_patterns=["*.safetensors"]),
        "private": StageSpec(mode="private"),
    }[scenario]
    services.release_plan_set(repo=repo, actor=owner, stages=[stage])
    services.release_advance(repo=repo, actor=owner)


def expected(scenario: str, caller: str, endpoint: str) -> tuple[int, str | None]:
    if scenario == "private" and caller not in HAS_ROLE:
        return (401 if caller == "anonymous" and endpoint not in PORTAL else 404), "RepoNotFound"
    if not endpoint.startswith("resolve") or caller in HAS_ROLE:
        return 200, None
    refused = (401 if caller == "anonymous" else 403), "GatedRepo"
    if scenario in GATED and caller != "approved":
        return refused
    if endpoint == "resolve_weights" and scenario in WITHHELD:
        return refused
    return 200, None


def unmasked(body: bytes) -> bytes:
    """Pages carry a freshly masked CSRF token each time; everything else must match."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)


def client_for(caller, people, tokens, endpoint) -> tuple[Client, dict]:
    client = Client()
    if caller == "anonymous":
        return client, {}
    if endpoint in PORTAL:
        client.force_login(people[caller])
        return client, {}
    return client, {"HTTP_AUTHORIZATION": f"Bearer {tokens[caller]}"}


@pytest.mark.parametrize("scenario", ["off", "auto", "manual", "manual_withheld", "public_withheld", "private"])
def test_authorization_matrix(scenario, gated_repo, people, tokens, mailoutbox):
    set_scenario(gated_repo, people["owner"], scenario)
    mailoutbox.clear()
    failures = []
    for caller in CALLERS:
        for endpoint, path in ENDPOINTS.items():
            client, headers = client_for(caller, people, tokens, endpoint)
            before = Repo.objects.get(pk=gated_repo.pk).downloads
            response = client.get(path, **headers)
            counted = Repo.objects.get(pk=gated_repo.pk).downloads - before
            status, code = expected(scenario, caller, endpoint)
            body = response.content if not response.streaming else b"".join(response.streaming_content)
            may_read = expected(scenario, caller, "resolve_config")[0] == 200
            missing = client.get(path.replace("/diffusion", "/missing"), **headers) if code == "RepoNotFound" else None
            problems = check_cell(response, body, status, code, endpoint, counted, missing, may_read)
            failures += [f"{caller} {endpoint}: {problem}" for problem in problems]
    assert failures == []
    assert mailoutbox == []


def check_cell(response, body, status, code, endpoint, counted, missing, may_read) -> list[str]:
    problems = []
    if response.status_code != status:
        problems.append(f"status {response.status_code}, expected {status}")
    if code and endpoint not in PORTAL and response.get("X-Error-Code") != code:
        problems.append(f"code {response.get('X-Error-Code')}, expected {code}")
    if counted != (1 if endpoint == "resolve_config" and status == 200 else 0):
        problems.append(f"{counted} downloads counted")
    if status != 200:
        if WEIGHTS_SECRET[:30] in body or NOTES_SECRET in body:
            problems.append("refusal leaks file content")
        if missing is not None and (unmasked(body), response.status_code) != (
            unmasked(missing.content),
            missing.status_code,
        ):
            problems.append("a hidden repo answers differently from a missing one")
        if endpoint.startswith("resolve") and status in (401, 403) and response.get("Cache-Control") == "public":
            problems.append("refusal is publicly cacheable")
        return problems
    if endpoint == "resolve_weights" and body != WEIGHTS_SECRET:
        problems.append("wrong bytes")
    if endpoint == "blob":
        # The file page shows the text exactly to those who may download it.
        if may_read != (NOTES_SECRET in body):
            problems.append("notes shown to the wrong caller" if NOTES_SECRET in body else "notes hidden")
    if endpoint == "page" and b"A tiny model card" not in body:
        problems.append("card missing from the repo page")
    return problems

