"""Fixtures for preview tests: the tiny pipeline, tiny operator checkers, preview settings.

Import with `from tests.support.previews import *` in a conftest. Building the pipeline imports
torch, so only preview tests pay for it (once per session).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builders import make_repo

CARD = b"---\nlibrary_name: diffusers\npipeline_tag: text-to-image\nlicense: mit\n---\n# tiny-sd\n"


def save_checker(folder: Path, *, flag_everything: bool) -> Path:
    from tests.support.tiny_pipeline import build_safety_checker

    checker, extractor = build_safety_checker(flag_everything=flag_everything)
    checker.save_pretrained(folder / "safety_checker", safe_serialization=True)
    extractor.save_pretrained(folder / "feature_extractor")
    return folder


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory) -> Path:
    from tests.support.tiny_pipeline import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd") / "pipe")


@pytest.fixture(scope="session")
def tiny_sd_files(tiny_sd_folder) -> dict[str, bytes]:
    from tests.support.tiny_pipeline import folder_files

    return {"README.md": CARD, **folder_files(tiny_sd_folder)}


@pytest.fixture(scope="session")
def checker_dir(tmp_path_factory) -> Path:
    return save_checker(tmp_path_factory.mktemp("checker"), flag_everything=False)


@pytest.fixture(scope="session")
def flagging_checker_dir(tmp_path_factory) -> Path:
    return save_checker(tmp_path_factory.mktemp("checker-flags"), flag_everything=True)


@pytest.fixture
def preview_settings(settings, tmp_path, checker_dir):
    """Operator settings for previews, with media and model caches in the test's tmp dir."""
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(checker_dir)
    settings.GATEHOUSE_PREVIEW_MEDIA_ROOT = tmp_path / "preview-media"
    settings.GATEHOUSE_PREVIEW_MODEL_CACHE = tmp_path / "preview-models"
    settings.GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS = ""
    settings.GATEHOUSE_PREVIEW_SLD_MINIMUM = "off"
    return settings


@pytest.fixture
def fresh_engine():
    """Each test gets a worker engine built from its own settings (checker path, device)."""
    from workers import worker

    worker._engine = None
    yield
    worker._engine = None


@pytest.fixture
def sd_repo(alice, tiny_sd_files):
    return make_repo(alice, "tiny-sd", tiny_sd_files)


def preview_body(**overrides) -> dict:
    """A small, fast request for the tiny pipeline (64x64, 2 steps)."""
    body = {"prompt": "a photo of a cat", "seed": 7, "num_inference_steps": 2, "width": 64, "height": 64}
    body.update(overrides)
    return body


def media_files(settings) -> list[str]:
    """The names of the stored preview images, on whichever storage backend the test runs."""
    from workers.media import preview_store

    return sorted(name for name, _size, _mtime in preview_store().iter_objects())


def request_preview(client, user, repo_id: str = "alice/tiny-sd", **body) -> dict:
    """POST a preview request with a bearer token for `user`; asserts it was accepted."""
    from tests.support.builders import token_for

    response = client.post(
        f"/api/models/{repo_id}/previews",
        data=preview_body(**body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(user)}",
    )
    assert response.status_code == 202, response.json()
    return response.json()
