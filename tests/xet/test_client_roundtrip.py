"""The default client (hf_xet installed, no settings) against a live Gatehouse: uploads of files of
200 MiB and more through Xet, downloads with and without hf_xet, and chunk-level deduplication."""

import hashlib
import os
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)

from registry.storage import get_storage
from registry.views import download
from tests.support.builders import token_for
from xet import services
from xet.models import XetFile, Xorb

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024


def _weights(path: Path, size: int = 200 * MIB) -> Path:
    """Random bytes, a compressible float-like run and zeros: all three chunk encodings occur."""
    floats = (b"\x00\x00\x80\x3f\xcd\xcc\x4c\x3e" * (8 * MIB // 8))[: 8 * MIB]
    with path.open("wb") as handle:
        handle.write(os.urandom(size - 16 * MIB))
        handle.write(floats)
        handle.write(bytes(8 * MIB))
    return path


def _digest(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@pytest.fixture
def received(monkeypatch):
    """Bytes the CAS received: xorb bodies and shard bodies, as they arrive."""
    counts = {"xorb": 0, "shard": 0}
    xorb_store, shard_register = services.xorb_store, services.shard_register

    def counting_store(**kwargs):
        counts["xorb"] += kwargs["content_length"] or 0
        return xorb_store(**kwargs)

    def counting_register(**kwargs):
        counts["shard"] += len(kwargs["data"])
        return shard_register(**kwargs)

    monkeypatch.setattr(services, "xorb_store", counting_store)
    monkeypatch.setattr(services, "shard_register", counting_register)
    return counts


@pytest.fixture
def rebuilt(monkeypatch):
    """Plain /resolve downloads served by rebuilding Xet content on the server."""
    calls = []
    original = download._rebuilt

    def counting(sha256, byte_range, size):
        calls.append(sha256)
        return original(sha256, byte_range, size)

    monkeypatch.setattr(download, "_rebuilt", counting)
    return calls


@pytest.mark.s3
def test_upload_folder_and_snapshot_download_with_and_without_hf_xet(
    hub, alice, tmp_path, monkeypatch, received, rebuilt
):
    assert constants.HF_HUB_DISABLE_XET is False
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    _weights(folder / "unet" / "diffusion_pytorch_model.safetensors")
    (folder / "model_index.json").write_text('{"_class_name": "Tiny"}')
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# Tiny\n")
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/tiny")
    api.upload_folder(folder_path=folder, repo_id="alice/tiny")
    assert received["xorb"] >= 180 * MIB  # the weights went through Xet (zeros and floats compress)
    assert XetFile.objects.filter(size=200 * MIB).exists()

    tree = {item.path: item for item in api.list_repo_tree("alice/tiny", recursive=True)}
    weights = tree["unet/diffusion_pytorch_model.safetensors"]
    assert weights.xet_hash == XetFile.objects.get(size=200 * MIB).hash
    assert weights.lfs.sha256 == _digest(folder / "unet" / "diffusion_pytorch_model.safetensors")

    with_xet = Path(snapshot_download("alice/tiny", cache_dir=tmp_path / "xet-cache"))
    assert rebuilt == []  # hf_xet fetched xorb ranges itself
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    plain = Path(snapshot_download("alice/tiny", cache_dir=tmp_path / "plain-cache"))
    if get_storage().serves_signed_urls:  # S3: written out once as a plain object, fetched from the store
        assert rebuilt == [] and get_storage().exists(weights.lfs.sha256)
    else:
        assert len(rebuilt) == 1  # the server rebuilt the file for the plain GET
    for name in ("unet/diffusion_pytorch_model.safetensors", "model_index.json", "README.md"):
        assert _digest(with_xet / name) == _digest(plain / name) == _digest(folder / name)


def test_second_version_with_a_small_change_sends_and_stores_only_new_chunks(
    hub, alice, tmp_path, monkeypatch, received, rebuilt
):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/dedupe")
    first = _weights(tmp_path / "v1.bin", 256 * MIB)
    api.upload_file(path_or_fileobj=str(first), path_in_repo="model.bin", repo_id="alice/dedupe")
    first_commit = api.model_info("alice/dedupe").sha
    first_bytes = received["xorb"] + received["shard"]
    first_stored = sum(Xorb.objects.values_list("size", flat=True))
    assert first_bytes >= 240 * MIB

    second = tmp_path / "v2.bin"
    data = bytearray(first.read_bytes())
    middle = len(data) // 2
    data[middle : middle + len(data) // 100] = os.urandom(len(data) // 100)  # 1% changed
    second.write_bytes(data)
    del data
    received.update(xorb=0, shard=0)
    api.upload_file(path_or_fileobj=str(second), path_in_repo="model.bin", repo_id="alice/dedupe")
    second_bytes = received["xorb"] + received["shard"]
    second_stored = sum(Xorb.objects.values_list("size", flat=True)) - first_stored
    assert second_bytes < 0.05 * first_bytes, (second_bytes, first_bytes)
    assert second_stored < 0.05 * first_stored, (second_stored, first_stored)

    # Both versions come back byte for byte, through hf_xet and through plain /resolve.
    for revision, original in ((first_commit, first), ("main", second)):
        path = hf_hub_download("alice/dedupe", "model.bin", revision=revision, cache_dir=tmp_path / "xet")
        assert _digest(path) == _digest(original)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    for revision, original in ((first_commit, first), ("main", second)):
        path = hf_hub_download("alice/dedupe", "model.bin", revision=revision, cache_dir=tmp_path / "plain")
        assert _digest(path) == _digest(original)
    assert len(rebuilt) == 2


def test_create_commit_with_xet_additions_and_deletions(hub, alice, tmp_path, received):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/ops")
    api.upload_file(path_or_fileobj=b"old", path_in_repo="old.txt", repo_id="alice/ops")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(os.urandom(24 * MIB))
    info = api.create_commit(
        "alice/ops",
        operations=[
            CommitOperationAdd(path_in_repo="weights/w.safetensors", path_or_fileobj=str(weights)),
            CommitOperationAdd(path_in_repo="notes.txt", path_or_fileobj=b"hello"),
            CommitOperationDelete(path_in_repo="old.txt"),
        ],
        commit_message="weights",
    )
    assert received["xorb"] >= 24 * MIB
    assert sorted(api.list_repo_files("alice/ops")) == [".gitattributes", "notes.txt", "weights/w.safetensors"]
    path = hf_hub_download("alice/ops", "weights/w.safetensors", revision=info.oid, cache_dir=tmp_path / "c")
    assert _digest(path) == _digest(weights)
    # Ranged plain GETs of Xet content are rebuilt from the middle of the file.
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        f"{hub}/alice/ops/resolve/main/weights/w.safetensors",
        headers={"Authorization": f"Bearer {api.token}", "Range": "bytes=1000000-1000099"},
    )
    with urllib.request.urlopen(request) as ranged:  # noqa: S310
        assert ranged.status == 206
        assert ranged.read() == weights.read_bytes()[1_000_000:1_000_100]


def test_contributor_without_write_access_sends_large_files_in_a_pull_request(hub, alice, bob, tmp_path):
    HfApi(token=token_for(alice)).create_repo("alice/open")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(os.urandom(3 * MIB))
    contributor = HfApi(token=token_for(bob))
    info = contributor.upload_file(
        path_or_fileobj=str(weights), path_in_repo="w.safetensors", repo_id="alice/open", create_pr=True
    )
    assert info.pr_num == 1
    path = hf_hub_download("alice/open", "w.safetensors", revision="refs/pr/1", cache_dir=tmp_path / "c")
    assert _digest(path) == _digest(weights)
    with pytest.raises(Exception, match="403|write access|Forbidden"):
        contributor.upload_file(path_or_fileobj=str(weights), path_in_repo="x.safetensors", repo_id="alice/open")
