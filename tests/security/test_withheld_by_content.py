"""A release stage withholds files by content too, not only by path at the requested revision.

The attack: a stage withholds `withheld/*`. A writer moves `weights/model.safetensors` into
`withheld/` (or the plan is set after such a move). At older commits and tags the same bytes sit
under their old name, which no pattern matches, so anyone could download them there:
`hf_hub_download(..., "weights/model.safetensors", revision="v1")`.
"""

from pathlib import Path

import pytest
from django.test import Client
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError

from gating import release
from gating.models import ReleaseStage
from registry import services
from tests.support.builders import commit_files, make_repo, token_for

WEIGHTS = bytes(range(256)) * 40  # LFS by the default .gitattributes
NOTES = b"regular file, moved too\n"


def _repo_with_v1(alice):
    repo = make_repo(alice, "staged", {"weights/model.safetensors": WEIGHTS, "notes.txt": NOTES, "config.json": b"{}"})
    services.tag_create(repo=repo, tag="v1", revision="main")
    return repo


def _withhold(repo, alice):
    stage = release.StageSpec(mode="public", withheld_patterns=("withheld/*",))
    release.release_plan_set(repo=repo, actor=alice, stages=[stage])


def _move_into_withheld(repo, alice):
    return commit_files(
        repo,
        {
            "weights/model.safetensors": None,
            "notes.txt": None,
            "withheld/model.safetensors": WEIGHTS,
            "withheld/notes.txt": NOTES,
        },
        author=alice,
    )


def _status(path: str, revision: str = "v1", token: str | None = None) -> int:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get(f"/alice/staged/resolve/{revision}/{path}", **headers).status_code


@pytest.mark.django_db
@pytest.mark.parametrize("plan_first", [True, False], ids=["moved-after-plan", "plan-after-move"])
def test_old_names_of_withheld_content_are_withheld(alice, bob, plan_first):
    repo = _repo_with_v1(alice)
    if plan_first:
        _withhold(repo, alice)
        _move_into_withheld(repo, alice)
    else:
        _move_into_withheld(repo, alice)
        _withhold(repo, alice)
    for path in ("weights/model.safetensors", "notes.txt"):
        assert _status(path) == 401, path  # anonymous, as for the withheld path itself
        assert _status(path, token=token_for(bob)) == 403, path
        assert _status(path, token=token_for(alice)) == 200, path  # the owner sees everything
    assert _status("withheld/model.safetensors", "main") == 401
    assert _status("config.json") == 200  # the rest of the old revision is untouched


@pytest.mark.django_db
def test_withheld_content_follows_the_stage(alice):
    repo = _repo_with_v1(alice)
    _withhold(repo, alice)
    _move_into_withheld(repo, alice)
    stage = ReleaseStage.objects.get(plan__repo=repo)
    assert len(stage.withheld_content) == 2
    release.release_plan_set(repo=repo, actor=alice, stages=[release.StageSpec(mode="public")])
    assert _status("weights/model.safetensors") == 200  # released: nothing withheld any more
    commit_files(repo, {"withheld/model.safetensors": None, "withheld/notes.txt": None}, author=alice)
    _withhold(repo, alice)
    assert _status("weights/model.safetensors") == 200  # no longer under a withheld path at any head


def test_real_client_cannot_fetch_withheld_bytes_at_a_tag(hub, alice, bob):
    repo = _repo_with_v1(alice)
    _withhold(repo, alice)
    _move_into_withheld(repo, alice)
    with pytest.raises(GatedRepoError):
        hf_hub_download("alice/staged", "weights/model.safetensors", revision="v1", token=token_for(bob))
    path = hf_hub_download("alice/staged", "weights/model.safetensors", revision="v1", token=token_for(alice))
    assert Path(path).read_bytes() == WEIGHTS


@pytest.mark.django_db
def test_withholding_by_content_adds_no_query_to_a_download(alice):
    """The content ids ride on the stage row the policy already loads; tree entries and blob
    hashes come from the per-process caches once warm."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    repo = _repo_with_v1(alice)
    _withhold(repo, alice)
    _move_into_withheld(repo, alice)

    def queries() -> int:
        Client().head("/alice/staged/resolve/v1/config.json")  # warm the caches
        with CaptureQueriesContext(connection) as captured:
            assert Client().head("/alice/staged/resolve/v1/config.json").status_code == 200
        return len(captured)

    with_content = queries()
    ReleaseStage.objects.filter(plan__repo=repo).update(withheld_content=[])
    assert queries() == with_content


@pytest.mark.django_db
def test_migration_fills_the_stages_in_force(alice):
    import importlib

    from django.apps import apps

    repo = _repo_with_v1(alice)
    _move_into_withheld(repo, alice)
    _withhold(repo, alice)
    expected = ReleaseStage.objects.get(plan__repo=repo).withheld_content
    assert len(expected) == 2
    ReleaseStage.objects.update(withheld_content=[])  # as an install upgraded from before
    migration = importlib.import_module("gating.migrations.0005_release_stage_withheld_content")
    migration.fill_withheld_content(apps, None)
    assert ReleaseStage.objects.get(plan__repo=repo).withheld_content == expected
    assert _status("weights/model.safetensors") == 401


@pytest.mark.django_db
def test_a_branch_created_at_an_old_commit_withholds_what_it_brings_to_a_head(alice):
    repo = _repo_with_v1(alice)
    moved = _move_into_withheld(repo, alice)
    commit_files(repo, {"withheld/model.safetensors": None, "withheld/notes.txt": None}, author=alice)
    _withhold(repo, alice)
    assert _status("weights/model.safetensors") == 200  # at no head under a withheld path
    services.branch_create(repo=repo, branch="keep", starting_point=moved.oid)
    assert _status("weights/model.safetensors") == 401
    services.branch_delete(repo=repo, branch="keep")
    assert _status("weights/model.safetensors") == 200


@pytest.mark.django_db
def test_gating_page_tells_the_owner_what_is_withheld_by_content(alice):
    repo = _repo_with_v1(alice)
    _withhold(repo, alice)
    _move_into_withheld(repo, alice)
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/alice/staged/gating").content.decode()
    assert "the content of 2 files is withheld at every revision, under any name" in page
