"""The real client publishing to Gatehouse: repos, uploads through LFS, commits, refs."""

import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import RepositoryNotFoundError

from registry.models import Repo, StoredObject
from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def lfs_protocol(monkeypatch):
    """These tests cover the Git LFS path (clients without hf_xet); tests/xet covers the Xet path."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def api(hub, alice):
    return HfApi(token=token_for(alice))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_upload_and_round_trip(api, tmp_path):
    url = api.create_repo("alice/pub")
    assert url.repo_id == "alice/pub"
    assert api.create_repo("alice/pub", exist_ok=True).repo_id == "alice/pub"
    api.create_repo("alice/data", repo_type="dataset", private=True)
    assert Repo.objects.get(name="data").private

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    files = {
        "README.md": b"---\nlicense: mit\ntags: [demo]\n---\n# Demo\n",
        "config.json": b'{"a": 1}',
        "sub/notes.txt": b"plain text\n" * 10,
        "sub/small.bin": os.urandom(4096),
        "weights.safetensors": os.urandom(2 * 1024 * 1024 + 17),
        "empty.txt": b"",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    # and a file of 100 MiB, which goes through LFS
    block = os.urandom(1024 * 1024)
    with open(folder / "sub" / "large.bin", "wb") as handle:
        for i in range(100):
            handle.write(block[i:] + block[:i])
    files["sub/large.bin"] = (folder / "sub" / "large.bin").read_bytes()
    info = api.upload_folder(folder_path=folder, repo_id="alice/pub", commit_message="Upload folder")
    assert len(info.oid) == 40 and "/alice/pub/commit/" in info.commit_url

    snapshot = Path(snapshot_download("alice/pub"))
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data, name
    entries = {e.path: e for e in api.list_repo_tree("alice/pub", recursive=True) if hasattr(e, "size")}
    assert entries["weights.safetensors"].lfs.sha256 == _sha(files["weights.safetensors"])
    assert entries["config.json"].lfs is None
    assert api.model_info("alice/pub").card_data["license"] == "mit"


@pytest.mark.s3
def test_large_file_goes_through_lfs_and_comes_back_identical(api, tmp_path):
    api.create_repo("alice/big")
    big = tmp_path / "model.safetensors"
    chunk = os.urandom(1024 * 1024)
    with open(big, "wb") as handle:
        for i in range(100):
            handle.write(chunk[i:] + chunk[:i])
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    api.upload_file(path_or_fileobj=str(big), path_in_repo="model.safetensors", repo_id="alice/big")
    stored = StoredObject.objects.get(sha256=expected)
    assert stored.size == 100 * 1024 * 1024
    downloaded = hf_hub_download("alice/big", "model.safetensors")
    with open(downloaded, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    assert digest == expected


@pytest.mark.s3
def test_multipart_lfs_upload(api, settings, tmp_path):
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 1024 * 1024
    api.create_repo("alice/parts")
    data = os.urandom(3 * 1024 * 1024 + 5)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id="alice/parts")
    assert Path(hf_hub_download("alice/parts", "w.safetensors")).read_bytes() == data


def test_create_commit_additions_deletions_copies(api):
    api.create_repo("alice/ops")
    big = os.urandom(2 * 1024 * 1024)
    api.create_commit(
        "alice/ops",
        operations=[
            CommitOperationAdd("a.txt", b"A"),
            CommitOperationAdd("dir/b.txt", b"B"),
            CommitOperationAdd("dir/deep/c.txt", b"C"),
            CommitOperationAdd("w.safetensors", big),
        ],
        commit_message="add",
    )
    api.create_commit(
        "alice/ops",
        operations=[
            CommitOperationCopy("a.txt", "a-copy.txt"),
            CommitOperationCopy("w.safetensors", "copy/w.safetensors"),
            CommitOperationDelete("dir/deep/"),
            CommitOperationAdd("new.txt", b"new"),
        ],
        commit_message="copy and delete",
    )
    assert sorted(api.list_repo_files("alice/ops")) == sorted(
        [".gitattributes", "a.txt", "a-copy.txt", "copy/w.safetensors", "dir/b.txt", "new.txt", "w.safetensors"]
    )
    assert Path(hf_hub_download("alice/ops", "copy/w.safetensors")).read_bytes() == big
    api.delete_file("a.txt", "alice/ops")
    api.delete_folder("dir", "alice/ops")
    files = api.list_repo_files("alice/ops")
    assert "a.txt" not in files and not any(f.startswith("dir/") for f in files)
    titles = [c.title for c in api.list_repo_commits("alice/ops")]
    assert titles[:2] == ["Delete folder dir with huggingface_hub", "Delete a.txt with huggingface_hub"]


def test_branches_tags_move_and_delete(api):
    api.create_repo("alice/refs")
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id="alice/refs")
    api.create_branch("alice/refs", branch="dev")
    api.create_branch("alice/refs", branch="dev", exist_ok=True)
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id="alice/refs", revision="dev")
    api.create_tag("alice/refs", tag="v1.0", tag_message="first release")
    api.create_tag("alice/refs", tag="dev-snap", revision="dev")
    assert Path(hf_hub_download("alice/refs", "f.txt", revision="dev")).read_bytes() == b"v2"
    assert Path(hf_hub_download("alice/refs", "f.txt", revision="v1.0")).read_bytes() == b"v1"
    refs = api.list_repo_refs("alice/refs")
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert {t.name for t in refs.tags} == {"v1.0", "dev-snap"}
    api.delete_tag("alice/refs", tag="dev-snap")
    api.delete_branch("alice/refs", branch="dev")
    assert {b.name for b in api.list_repo_refs("alice/refs").branches} == {"main"}

    api.move_repo("alice/refs", "alice/renamed")
    assert api.model_info("alice/renamed").id == "alice/renamed"
    # old URLs redirect (relative 307), for the API and for downloads
    assert api.model_info("alice/refs").id == "alice/renamed"
    assert Path(hf_hub_download("alice/refs", "f.txt")).read_bytes() == b"v1"
    api.update_repo_settings("alice/renamed", private=True)
    assert Repo.objects.get(name="renamed").private
    api.delete_repo("alice/renamed")
    assert not api.repo_exists("alice/renamed")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("alice/renamed")
    api.delete_repo("alice/renamed", missing_ok=True)
