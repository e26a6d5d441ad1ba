"""The upload paths as deployed: Gatehouse under a real gunicorn (gthread workers), where large
bodies are read straight from the socket (core.socketbody): LFS objects are written around the
page cache (registry.storage), xorbs are parsed through a buffer over the socket. The pytest live
server is not gunicorn, so the other upload tests never take these paths."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from huggingface_hub import HfApi, constants, hf_hub_download

from registry.storage import PIPELINE_MIN_SIZE, get_storage
from tests.e2e.conftest import wait_for, worker_database_url
from tests.support.builders import token_for
from tests.support.gunicorn import gunicorn
from xet.models import XetFile

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = PIPELINE_MIN_SIZE + 24 * 1024 * 1024 + 123  # pipelined, several receive buffers, unaligned tail
PART_SIZE = PIPELINE_MIN_SIZE + 4 * 1024 * 1024
MULTIPART_SIZE = 2 * PART_SIZE + 5000  # two pipelined parts and a small one


@pytest.fixture
def served(tmp_path):
    if "sqlite" in settings.DATABASES["default"]["ENGINE"] and "memory" in str(settings.DATABASES["default"]["NAME"]):
        pytest.skip("needs a database a second process can open (Postgres or an SQLite file)")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "CELERY_BROKER_URL": "filesystem://",  # scan tasks wait in the temp dir, untouched
        "GATEHOUSE_LOOKUP_CACHE": "false",
        # Larger than SIZE: a multipart upload, with parts large enough for the receive pipeline.
        "GATEHOUSE_LFS_MULTIPART_THRESHOLD": str(MULTIPART_SIZE - 1),
        "GATEHOUSE_LFS_CHUNK_SIZE": str(PART_SIZE),
    }
    with gunicorn("config.wsgi", log=tmp_path / "gunicorn.log", env=env) as url:
        yield url


def _digest(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _round_trip(served: str, user, repo_id: str, tmp_path, monkeypatch, size: int = SIZE) -> str:
    """Upload `size` random bytes with the real client as it is configured, download them without
    hf_xet (plain /resolve), compare; returns the file's sha256."""
    token = token_for(user)
    api = HfApi(endpoint=served, token=token)
    api.create_repo(repo_id)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(size))
    api.upload_file(path_or_fileobj=str(weights), path_in_repo="model.safetensors", repo_id=repo_id)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    downloaded = hf_hub_download(repo_id, "model.safetensors", endpoint=served, token=token, cache_dir=tmp_path / "c")
    assert _digest(downloaded) == _digest(weights)
    return _digest(weights)


def test_large_upload_through_gunicorn_round_trips(served, alice, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    sha256 = _round_trip(served, alice, "alice/served", tmp_path, monkeypatch)
    assert get_storage().size(sha256) == SIZE  # an LFS object


def test_multipart_upload_through_gunicorn_round_trips(served, alice, tmp_path, monkeypatch):
    from huggingface_hub import lfs

    part_sizes = []
    upload_parts = lfs._upload_multi_part

    def recording(operation, header, chunk_size, upload_url):
        part_sizes.append(chunk_size)
        return upload_parts(operation, header, chunk_size, upload_url)

    monkeypatch.setattr(lfs, "_upload_multi_part", recording)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    sha256 = _round_trip(served, alice, "alice/served-parts", tmp_path, monkeypatch, size=MULTIPART_SIZE)
    assert part_sizes == [PART_SIZE]
    assert get_storage().size(sha256) == MULTIPART_SIZE


def test_xet_upload_through_gunicorn_round_trips(served, alice, tmp_path, monkeypatch):
    from huggingface_hub.utils import _xet

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet-cache"))
    monkeypatch.setattr(_xet._GLOBAL_XET_HOLDER, "_session", None)
    sha256 = _round_trip(served, alice, "alice/served-xet", tmp_path, monkeypatch)
    assert XetFile.objects.filter(size=SIZE, sha256=sha256).exists()  # xorbs, not an LFS object
    assert not get_storage().exists(sha256)


def test_upload_cut_off_mid_body_leaves_nothing(served, alice):
    token = token_for(alice)
    HfApi(endpoint=served, token=token).create_repo("alice/cut")
    data = os.urandom(SIZE)
    oid = hashlib.sha256(data).hexdigest()
    batch = requests.post(
        f"{served}/alice/cut.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": SIZE}]},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
        timeout=30,
    )
    batch.raise_for_status()
    href = urlsplit(batch.json()["objects"][0]["actions"]["upload"]["href"])
    storage = get_storage()
    before = set(storage.tmp_dir.iterdir())
    with socket.create_connection((href.hostname, href.port), timeout=30) as sock:
        target = f"{href.path}?{href.query}"
        sock.sendall(f"PUT {target} HTTP/1.1\r\nHost: {href.netloc}\r\nContent-Length: {SIZE}\r\n\r\n".encode())
        sock.sendall(data[: SIZE // 2])
        wait_for(lambda: set(storage.tmp_dir.iterdir()) - before, timeout=30, what="the upload to start")
    wait_for(lambda: not set(storage.tmp_dir.iterdir()) - before, timeout=30, what="the partial upload to go")
    assert not storage.exists(oid)


@pytest.fixture
def strict_served(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "CELERY_BROKER_URL": "filesystem://",
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "GATEHOUSE_HEAD_TIMEOUT": "1.5",  # also the grace before the minimum rate applies
        "GATEHOUSE_BODY_MIN_RATE": "20000",
    }
    with gunicorn("config.wsgi", log=tmp_path / "gunicorn.log", env=env) as url:
        yield url


def test_an_upload_trickling_below_the_minimum_rate_is_cut(strict_served, alice):
    """LFS bodies are read from the socket itself (core.socketbody): the minimum rate holds there
    too, not only the idle timeout."""
    token = token_for(alice)
    HfApi(endpoint=strict_served, token=token).create_repo("alice/trickle")
    size = 4 * 1024 * 1024
    batch = requests.post(
        f"{strict_served}/alice/trickle.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "ab" * 32, "size": size}]},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
        timeout=30,
    )
    batch.raise_for_status()
    href = urlsplit(batch.json()["objects"][0]["actions"]["upload"]["href"])
    with socket.create_connection((href.hostname, href.port), timeout=30) as sock:
        sock.sendall(
            f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: {href.netloc}\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        sock.settimeout(0.3)
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 15 and not answer:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b"x" * 500)  # about 1.7 KB a second, never idle
    assert answer.startswith(b"HTTP/1.1 408 ") and b"more slowly" in answer, answer[:300]
    assert time.monotonic() - started < 8
