"""Gatehouse as a governed pull-through cache of another hub (issue 21), against a second
Gatehouse on loopback (tests/mirror/conftest.py) through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import threading

import pytest
import requests
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from mirror.models import MirrorObject, MirrorPull
from tests.mirror.conftest import UPSTREAM_NAME, upstream_stopped
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _set_upstream_token(hub: str, token: str, upstream_token: str) -> requests.Response:
    return requests.put(
        f"{hub}/api/mirror/upstreams/{UPSTREAM_NAME}/token",
        json={"token": upstream_token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_public_repo_reads_through_the_client_and_is_cached(hub, mirror_settings, tmp_path):
    api = HfApi()
    info = api.model_info("upco/public-model")
    assert info.id == "upco/public-model"
    assert info.sha == mirror_settings.public_commit
    refs = api.list_repo_refs("upco/public-model")
    assert [branch.target_commit for branch in refs.branches] == [mirror_settings.public_commit]
    files = {entry.path for entry in api.list_repo_tree("upco/public-model")}
    assert {"config.json", "model.safetensors"} <= files
    [paths_info] = api.get_paths_info("upco/public-model", ["model.safetensors"])
    assert paths_info.lfs is not None and paths_info.size == 300_000

    path = hf_hub_download("upco/public-model", "config.json", revision=mirror_settings.public_commit)
    assert open(path, "rb").read() == b'{"hidden_size": 8}\n'
    lfs_path = hf_hub_download("upco/public-model", "model.safetensors", revision=mirror_settings.public_commit)
    expected = paths_info.lfs.sha256
    assert hashlib.sha256(open(lfs_path, "rb").read()).hexdigest() == expected
    stored = MirrorObject.objects.get(oid=expected)
    assert stored.state == "stored" and stored.sha256 == expected and stored.fetch_count == 1

    # A second download (fresh client cache) is served from the store: no second upstream GET.
    gets = len(mirror_settings.access_lines("GET /upco/public-model/resolve/"))
    again = hf_hub_download("upco/public-model", "model.safetensors", cache_dir=tmp_path / "c2")
    assert open(again, "rb").read() == open(lfs_path, "rb").read()
    assert len(mirror_settings.access_lines("GET /upco/public-model/resolve/")) == gets
    pulls = list(MirrorPull.objects.filter(path="model.safetensors").values_list("source", "commit", "user_label"))
    assert pulls == [
        ("upstream", mirror_settings.public_commit, "anonymous"),
        ("cache", mirror_settings.public_commit, "anonymous"),
    ]
