"""Upstream files stored as Xet (uploaded through hf_xet, announced upstream with X-Xet-Hash)
read through the mirror by the real client, with and without hf_xet.

The mirror holds such a file as plain bytes in its own store, never as Xet: it announces no Xet
(no X-Xet-Hash, no `rel="xet-auth"` link, no `xetHash` in listings), so every client, hf_xet
included, downloads the bytes from our /resolve, where the policy, the rules and the audit apply.
Announcing the upstream's Xet hash would send hf_xet to our xet-read-token and CAS routes for
content we do not hold as Xet (or to the upstream's CAS, past all of that)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from mirror.models import MirrorObject, MirrorPull
from tests.mirror.conftest import UPSTREAM_NAME
from tests.support.builders import UserFactory, token_for
from xet.models import XetFile

pytestmark = pytest.mark.django_db(transaction=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upstream_gets(upstream, repo_id: str, path: str) -> int:
    """GETs of `path` of `repo_id` the upstream answered (all of its log: earlier tests' too)."""
    lines = upstream.access_lines(f"GET /{repo_id}/resolve/")
    return len([line for line in lines if f"/{path} " in line])


def _upstream_xet_reads(upstream) -> int:
    """Requests to the upstream's Xet read routes (its read tokens, its CAS)."""
    return len(upstream.access_lines("xet-read-token")) + len(upstream.access_lines("/reconstructions/"))


def test_xet_stored_upstream_files_download_as_plain_bytes_fetched_once(
    hub, mirror_settings, upstream_xet, tmp_path, monkeypatch
):
    seeded = upstream_xet
    first, second = _sha256(seeded.first), _sha256(seeded.second)
    # The upstream really holds them as Xet: it announces them to hf_xet.
    straight = requests.head(f"{mirror_settings.url}/upco/xet-model/resolve/main/model.safetensors", timeout=30)
    assert straight.headers["X-Xet-Hash"] and "xet-auth" in straight.headers["Link"]
    tree_upstream = requests.get(f"{mirror_settings.url}/api/models/upco/xet-model/tree/main", timeout=30).json()
    assert any(entry.get("xetHash") for entry in tree_upstream)

    # The mirror announces plain content: no Xet hash, no Xet link, in answers and in listings.
    head = requests.head(f"{hub}/upco/xet-model/resolve/main/model.safetensors", timeout=30)
    assert head.status_code == 200, head.text
    assert "X-Xet-Hash" not in head.headers and "Link" not in head.headers
    assert head.headers["X-Linked-Etag"] == f'"{second}"' and head.headers["X-Repo-Commit"] == seeded.main_commit
    api = HfApi()
    tree = list(api.list_repo_tree("upco/xet-model", revision=seeded.first_commit, recursive=True, expand=True))
    weights = next(entry for entry in tree if entry.path == "model.safetensors")
    assert weights.xet_hash is None and weights.lfs.sha256 == first
    [paths_info] = api.get_paths_info("upco/xet-model", ["model.safetensors"], expand=True)
    assert paths_info.xet_hash is None and paths_info.lfs.sha256 == second
    siblings = api.model_info("upco/xet-model", files_metadata=True).siblings or []
    assert all(getattr(sibling, "xet_hash", None) is None for sibling in siblings)

    xet_reads = _upstream_xet_reads(mirror_settings)
    gets = _upstream_gets(mirror_settings, "upco/xet-model", "model.safetensors")
    # The default client (hf_xet installed), pinned by commit id: fetched from the upstream.
    pinned = hf_hub_download(
        "upco/xet-model", "model.safetensors", revision=seeded.first_commit, cache_dir=tmp_path / "a"
    )
    assert Path(pinned).read_bytes() == seeded.first
    # Without hf_xet, pinned by branch (`v1` is the first commit): served from the store.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    branch = hf_hub_download("upco/xet-model", "model.safetensors", revision="v1", cache_dir=tmp_path / "b")
    assert Path(branch).read_bytes() == seeded.first
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    # snapshot_download lists the tree first (and would skip the HEAD for entries with a xetHash).
    latest = Path(snapshot_download("upco/xet-model", cache_dir=tmp_path / "c"))
    assert (latest / "model.safetensors").read_bytes() == seeded.second
    assert (latest / "README.md").read_bytes() == b"---\nlicense: mit\n---\n# xet\n"
    old = Path(snapshot_download("upco/xet-model", revision=seeded.first_commit, cache_dir=tmp_path / "d"))
    assert (old / "model.safetensors").read_bytes() == seeded.first

    # Each version fetched once, verified against its sha256; nothing asked of the upstream's CAS.
    for sha256, size in ((first, len(seeded.first)), (second, len(seeded.second))):
        row = MirrorObject.objects.get(oid=sha256)
        assert (row.state, row.sha256, row.size, row.fetch_count) == ("stored", sha256, size, 1)
    assert _upstream_gets(mirror_settings, "upco/xet-model", "model.safetensors") == gets + 2
    assert _upstream_xet_reads(mirror_settings) == xet_reads
    pulls = MirrorPull.objects.filter(repo_id="upco/xet-model", path="model.safetensors")
    assert sorted(pulls.values_list("commit", "source")) == sorted(
        [
            (seeded.first_commit, "upstream"),
            (seeded.first_commit, "cache"),
            (seeded.main_commit, "upstream"),
            (seeded.first_commit, "cache"),
        ]
    )
    # Nor does the mirror make them Xet here (no local Xet file names them), or answer Xet
    # routes of its own for a mirrored repo.
    assert not XetFile.objects.exists()
    refused = requests.get(f"{hub}/api/models/upco/xet-model/xet-read-token/{seeded.main_commit}", timeout=30)
    assert refused.status_code == 404 and "accessToken" not in refused.text


def test_gated_xet_stored_upstream_file_needs_the_users_own_upstream_grant(
    hub, mirror_settings, upstream_xet, tmp_path
):
    seeded = upstream_xet
    granted, stranger = UserFactory(username="gwen"), UserFactory(username="stu")
    granted_token, stranger_token = token_for(granted), token_for(stranger)
    for token, upstream_token in ((granted_token, "carol"), (stranger_token, "dave")):
        answer = requests.put(
            f"{hub}/api/mirror/upstreams/{UPSTREAM_NAME}/token",
            json={"token": mirror_settings.tokens[upstream_token]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

    def download(token: str | None, folder: str) -> bytes:
        path = hf_hub_download(
            "upco/gated-xet",
            "weights.safetensors",
            revision=seeded.gated_commit,
            token=token,
            cache_dir=tmp_path / folder,
        )
        return Path(path).read_bytes()

    with pytest.raises(GatedRepoError):  # dave was never granted upstream
        download(stranger_token, "s0")
    with pytest.raises(GatedRepoError):
        download(None, "anon0")
    assert not MirrorObject.objects.exists()
    assert download(granted_token, "g") == seeded.gated
    head = requests.head(
        f"{hub}/upco/gated-xet/resolve/{seeded.gated_commit}/weights.safetensors",
        headers={"Authorization": f"Bearer {granted_token}"},
        timeout=30,
    )
    assert head.status_code == 200 and "X-Xet-Hash" not in head.headers and "Link" not in head.headers
    assert head.headers["Cache-Control"] == "private, no-cache"
    # Cached now: the stranger's and the anonymous caller's own upstream rights still decide.
    with pytest.raises(GatedRepoError):
        download(stranger_token, "s1")
    with pytest.raises(GatedRepoError):
        download(None, "anon1")
    assert MirrorObject.objects.get().fetch_count == 1
    assert list(MirrorPull.objects.values_list("user_label", flat=True)) == ["gwen"]


@pytest.mark.slow  # torch and diffusers in the test process, a pipeline built and uploaded: ~40 s
def test_diffusers_from_pretrained_through_the_mirror_pinned_by_commit(hub, mirror_settings, upstream_tiny_pipeline):
    import torch
    from diffusers import DiffusionPipeline
    from safetensors.torch import load

    files, commit = upstream_tiny_pipeline
    weights = "unet/diffusion_pytorch_model.safetensors"
    tree = {entry.path: entry for entry in HfApi().list_repo_tree("upco/tiny-sd", revision=commit, recursive=True)}
    assert tree[weights].lfs is not None and tree[weights].xet_hash is None
    straight = requests.head(f"{mirror_settings.url}/upco/tiny-sd/resolve/{commit}/{weights}", timeout=30)
    assert straight.headers["X-Xet-Hash"]  # Xet-stored upstream

    pipe = DiffusionPipeline.from_pretrained("upco/tiny-sd", revision=commit)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    committed = load(files[weights])
    loaded = pipe.unet.state_dict()
    assert committed.keys() == loaded.keys()
    assert all(torch.equal(committed[name], loaded[name]) for name in committed)
    image = pipe("a cat", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (64, 64)
    safetensors = [name for name in files if name.endswith(".safetensors")]
    stored = MirrorObject.objects.filter(oid__in=[_sha256(files[name]) for name in safetensors])
    assert sorted(stored.values_list("fetch_count", flat=True)) == [1] * len(safetensors)
    assert set(MirrorPull.objects.values_list("commit", flat=True)) == {commit}


def test_a_client_cache_filled_from_the_upstream_itself_is_told_the_way_out(
    hub, mirror_settings, upstream_xet, tmp_path, monkeypatch
):
    """Someone who downloaded from the upstream directly, then points HF_ENDPOINT here, keeps
    the tree listings the client cached per repo id and commit (whatever the endpoint); an entry
    with a Xet hash makes the client skip the HEAD and ask our xet-read-token, which mirrored
    repos do not serve (we hold their files as plain bytes): the answer names the way out."""
    seeded = upstream_xet
    cache = tmp_path / "warm"
    snapshot_download(  # writes the whole commit's listing, Xet hashes included
        "upco/xet-model",
        revision=seeded.first_commit,
        endpoint=mirror_settings.url,
        cache_dir=cache,
        allow_patterns=["README.md"],
    )
    with pytest.raises(HfHubHTTPError) as refused:
        hf_hub_download("upco/xet-model", "model.safetensors", revision=seeded.first_commit, cache_dir=cache)
    assert refused.value.response.status_code == 404
    assert refused.value.response.headers["X-Error-Code"] == "MirrorNotXet"
    assert "HF_HUB_DISABLE_XET=1" in str(refused.value)
    assert not MirrorObject.objects.exists()
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    path = hf_hub_download("upco/xet-model", "model.safetensors", revision=seeded.first_commit, cache_dir=cache)
    assert Path(path).read_bytes() == seeded.first
