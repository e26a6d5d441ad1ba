"""The real `huggingface_hub` client against a live Gatehouse server: the read and download API."""

import json
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from registry.models import Ref, RefKind, Repo
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

CARD = b"""---
license: apache-2.0
library_name: diffusers
pipeline_tag: text-to-image
tags: [art, tiny]
base_model: acme/base
---
# Tiny model

A *card* with a [link](https://example.org).
"""


@pytest.fixture
def published(alice):
    repo = make_repo(
        alice,
        "tiny",
        {
            "README.md": CARD,
            "config.json": b'{"hidden": 8}',
            "unet/config.json": b'{"in": 4}',
            "unet/diffusion_pytorch_model.safetensors": os.urandom(40_000),
            "text/notes.txt": b"hello",
        },
    )
    first = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid
    commit_files(repo, {"config.json": b'{"hidden": 16}'}, author=alice, summary="bump hidden size")
    Ref.objects.create(repo=repo, name="refs/tags/v1.0", kind=RefKind.TAG, commit_oid=first)
    Ref.objects.create(repo=repo, name="refs/heads/feature/x", kind=RefKind.BRANCH, commit_oid=first)
    return repo


def test_model_info_lists_files_card_and_sha(hub, published):
    info = HfApi().model_info("alice/tiny")
    head = Ref.objects.get(repo=published, name="refs/heads/main").commit_oid
    assert info.id == "alice/tiny" and info.sha == head
    assert info.pipeline_tag == "text-to-image" and info.library_name == "diffusers"
    assert info.card_data["license"] == "apache-2.0"
    assert "license:apache-2.0" in info.tags and "base_model:acme/base" in info.tags
    assert {s.rfilename for s in info.siblings} == {
        ".gitattributes",
        "README.md",
        "config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "text/notes.txt",
    }
    detailed = HfApi().model_info("alice/tiny", files_metadata=True)
    weights = next(s for s in detailed.siblings if s.rfilename.endswith(".safetensors"))
    assert weights.size == 40_000 and weights.lfs.size == 40_000 and len(weights.lfs.sha256) == 64


def test_model_info_past_the_inline_limit_is_streamed_whole(hub, alice, client, monkeypatch):
    """Repo info of a big tree is streamed (bounded memory, issue 17), with the same content as
    the one-body answer: every file, with its metadata, read by the real client."""
    files = {f"data/{i:02d}.txt": f"row {i}\n".encode() for i in range(6)}
    files["données/é.json"] = b"{}"
    files["weights.safetensors"] = os.urandom(20_000)
    make_repo(alice, "many", files)
    url = "/api/models/alice/many?blobs=true"
    monkeypatch.setattr("registry.api.repos.SIBLINGS_INLINE", 9)  # 8 files and .gitattributes: inline
    inline = client.get(url)
    monkeypatch.setattr("registry.api.repos.SIBLINGS_INLINE", 8)
    streamed = client.get(url)

    assert not inline.streaming and streamed.streaming
    assert streamed["Content-Type"] == inline["Content-Type"] == "application/json; charset=utf-8"
    body = b"".join(streamed.streaming_content)
    assert json.loads(body) == inline.json()
    assert "données/é.json".encode() in body  # UTF-8, as the renderer writes it
    info = HfApi().model_info("alice/many", files_metadata=True)
    assert {s.rfilename for s in info.siblings} == {".gitattributes", *files}
    weights = next(s for s in info.siblings if s.rfilename == "weights.safetensors")
    assert weights.size == 20_000 and weights.lfs.size == 20_000 and len(weights.lfs.sha256) == 64


def test_repo_revision_and_file_existence(hub, published):
    api = HfApi()
    assert api.repo_exists("alice/tiny")
    assert not api.repo_exists("alice/missing")
    assert api.revision_exists("alice/tiny", "v1.0")
    assert api.revision_exists("alice/tiny", "feature/x")
    assert not api.revision_exists("alice/tiny", "nope")
    assert api.file_exists("alice/tiny", "unet/config.json")
    assert not api.file_exists("alice/tiny", "unet/missing.json")
    tagged = published.refs.get(name="refs/tags/v1.0").commit_oid
    assert api.model_info("alice/tiny", revision="feature/x").sha == tagged


def test_list_files_tree_paths_info_refs_and_commits(hub, published):
    api = HfApi()
    files = api.list_repo_files("alice/tiny")
    assert "unet/diffusion_pytorch_model.safetensors" in files and "unet" not in files
    top = {item.path: item for item in api.list_repo_tree("alice/tiny")}
    assert set(top) == {".gitattributes", "README.md", "config.json", "unet", "text"}
    assert type(top["unet"]).__name__ == "RepoFolder"
    nested = list(api.list_repo_tree("alice/tiny", path_in_repo="unet", expand=True))
    weights = next(item for item in nested if item.path.endswith(".safetensors"))
    assert weights.lfs is not None and weights.last_commit.title == "add files"
    infos = api.get_paths_info("alice/tiny", ["config.json", "unet", "missing.txt"])
    assert sorted(info.path for info in infos) == ["config.json", "unet"]
    refs = api.list_repo_refs("alice/tiny")
    assert {b.name for b in refs.branches} == {"main", "feature/x"}
    assert [t.name for t in refs.tags] == ["v1.0"]
    commits = api.list_repo_commits("alice/tiny")
    assert [c.title for c in commits] == ["bump hidden size", "add files", "initial commit"]
    assert all(len(c.commit_id) == 40 for c in commits) and commits[0].authors == ["alice"]


def test_pagination_of_tree_and_commits_follows_absolute_links(hub, alice, settings):
    settings.GATEHOUSE_TREE_PAGE_SIZE = 7
    settings.GATEHOUSE_COMMITS_PAGE_SIZE = 4
    repo = make_repo(alice, "many", {f"data/file_{i:02d}.txt": f"{i}".encode() for i in range(25)})
    for i in range(9):
        commit_files(repo, {f"extra_{i}.txt": b"x"}, author=alice, summary=f"extra {i}")
    api = HfApi()
    assert len(api.list_repo_files("alice/many")) == 25 + 9 + 1
    assert len(api.list_repo_commits("alice/many")) == 11


def test_list_models_searches_filters_and_pages(hub, alice, bob, settings):
    settings.GATEHOUSE_LIST_PAGE_SIZE = 3
    for i in range(7):
        make_repo(alice, f"alpha-{i}", {"README.md": b"---\ntags: [vision]\n---\n"} if i % 2 else None)
    make_repo(bob, "beta")
    make_repo(bob, "secret", private=True)
    api = HfApi()
    everything = [m.id for m in api.list_models()]
    assert len(everything) == 8 and "bob/secret" not in everything
    assert {m.id for m in api.list_models(author="bob")} == {"bob/beta"}
    assert len(list(api.list_models(search="alpha"))) == 7
    assert {m.id for m in api.list_models(filter="vision")} == {f"alice/alpha-{i}" for i in (1, 3, 5)}
    assert len(list(api.list_models(limit=4))) == 4
    mine = [m.id for m in api.list_models(author="bob", token=token_for(Repo.objects.get(name="secret").owner_user))]
    assert set(mine) == {"bob/beta", "bob/secret"}


@pytest.mark.s3
def test_downloads_by_branch_tag_commit_and_subfolder(hub, published):
    first = published.refs.get(name="refs/tags/v1.0").commit_oid
    latest = hf_hub_download("alice/tiny", "config.json")
    assert Path(latest).read_bytes() == b'{"hidden": 16}'
    assert Path(hf_hub_download("alice/tiny", "config.json", revision="v1.0")).read_bytes() == b'{"hidden": 8}'
    assert Path(hf_hub_download("alice/tiny", "config.json", revision=first)).read_bytes() == b'{"hidden": 8}'
    assert Path(hf_hub_download("alice/tiny", "config.json", revision="feature/x")).read_bytes() == b'{"hidden": 8}'
    path = hf_hub_download("alice/tiny", "config.json", subfolder="unet")
    assert Path(path).read_bytes() == b'{"in": 4}'
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("alice/tiny", "nothing.bin")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("alice/tiny", "config.json", revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/none", "config.json")
    Repo.objects.filter(pk=published.pk).update(downloads=0)


@pytest.mark.s3
def test_snapshot_download_with_patterns_then_offline_from_cache(hub, published, monkeypatch):
    folder = snapshot_download("alice/tiny", allow_patterns=["*.json", "unet/*"], ignore_patterns=["unet/*.json"])
    got = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
    assert got == ["config.json", "unet/diffusion_pytorch_model.safetensors"]

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    offline = snapshot_download("alice/tiny", allow_patterns=["*.json", "unet/*"], ignore_patterns=["unet/*.json"])
    assert offline == folder
    cached = try_to_load_from_cache("alice/tiny", "config.json")
    assert Path(cached).read_bytes() == b'{"hidden": 16}'
    assert hf_hub_download("alice/tiny", "config.json") == cached


def test_download_counter_counts_query_file_gets_not_heads(hub, published):
    hf_hub_download("alice/tiny", "config.json")
    hf_hub_download("alice/tiny", "text/notes.txt")
    published.refresh_from_db()
    assert published.downloads == 1
    HfApi().file_exists("alice/tiny", "config.json")  # a HEAD
    published.refresh_from_db()
    assert published.downloads == 1
