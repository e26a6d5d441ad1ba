"""A second Gatehouse on loopback plays the upstream hub: its own SQLite database and var dir,
served by gunicorn in a child process (started once per run, when the first mirror test needs
it), seeded through its own services (tests/mirror/upstream_seed.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from huggingface_hub import HfApi, constants

from tests.support.gunicorn import ROOT, free_port

UPSTREAM_NAME = "up"
TOKEN_KEY = "3cJ6u0m3y9ldO9oZ2m7b8Qp0yB1xwq4bH5n9rSx7v0A="  # a Fernet key for the tests' upstream tokens


@dataclass
class Upstream:
    url: str
    tokens: dict[str, str]
    public_commit: str
    log: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None

    def access_lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if needle in line]


def _env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DJANGO_LIVE", "REDIS_URL", "CELERY_"))}
    env.update(
        GATEHOUSE_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir}/upstream.sqlite3",
        GATEHOUSE_STORAGE_ROOT=str(var_dir / "storage"),
        GATEHOUSE_UPSTREAMS="[]",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        GATEHOUSE_LOOKUP_CACHE="false",
    )
    return env


def _start(upstream: Upstream, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "-k", "core.gunicorn_worker.Worker", "--threads", "8", "-w", "1"]
    command += ["-b", f"127.0.0.1:{port}", "--timeout", "120", "--access-logfile", "-", "config.wsgi"]
    handle = upstream.log.open("ab")
    process = subprocess.Popen(command, cwd=ROOT, env=upstream.env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{upstream.url}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"upstream did not start:\n{upstream.log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def upstream_hub(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("upstream-var")
    env = _env(var_dir)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [*manage, "shell", "-c", "from tests.mirror.upstream_seed import main; main()"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    facts = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    upstream = Upstream(
        url=f"http://127.0.0.1:{port}",
        tokens=facts["tokens"],
        public_commit=facts["public_commit"],
        log=var_dir / "upstream.log",
        env=env,
    )
    upstream.process = _start(upstream, port)
    try:
        yield upstream
    finally:
        if upstream.process.poll() is None:
            upstream.process.send_signal(signal.SIGQUIT)  # quick shutdown: idle keep-alives hold a graceful one
            upstream.process.wait(timeout=30)


@contextmanager
def upstream_stopped(upstream: Upstream):
    """The upstream down (its process stopped), then started again on the same port and data."""
    assert upstream.process is not None
    upstream.process.send_signal(signal.SIGQUIT)
    upstream.process.wait(timeout=30)
    try:
        yield
    finally:
        upstream.process = _start(upstream, int(upstream.url.rsplit(":", 1)[1]))


@pytest.fixture
def mirror_settings(settings, upstream_hub):
    settings.GATEHOUSE_UPSTREAMS = [
        {
            "name": UPSTREAM_NAME,
            "endpoint": upstream_hub.url,
            "namespaces": ["upco"],
            "legacy_ids": ["gpt2"],
            "licenses_deny": ["cc-by-nc-4.0"],
            "repos_deny": ["upco/blocked-*"],
        }
    ]
    settings.GATEHOUSE_MIRROR_FOLLOW_SECONDS = 30
    # PostgreSQL: no key is generated per host (mirror.E003), so the tests set one.
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [TOKEN_KEY]
    from django.core.cache import cache

    cache.clear()  # metadata and verdicts of an earlier test (the database under them is new)
    return upstream_hub


@dataclass
class XetSeeded:
    """Content the upstream holds as Xet (uploaded through hf_xet): `upco/xet-model` at two
    commits (`v1` a branch at the first), and `upco/gated-xet`."""

    first: bytes
    second: bytes
    first_commit: str
    main_commit: str
    gated: bytes
    gated_commit: str


def upstream_api(upstream: Upstream) -> HfApi:
    """The owner's client for the upstream itself (HF_ENDPOINT points at the hub under test)."""
    return HfApi(endpoint=upstream.url, token=upstream.tokens["upco-write"])


@pytest.fixture(scope="session")
def upstream_xet(upstream_hub) -> XetSeeded:
    """Uploads through the default client (hf_xet installed, no settings), as the Hub's users
    do: the upstream then stores the files as Xet chunks and announces them with X-Xet-Hash."""
    assert constants.HF_HUB_DISABLE_XET is False
    api = upstream_api(upstream_hub)
    first = b"\0" + os.urandom(3 * 1024 * 1024 - 1)  # random, but never sniffed as a pickle (\x80, PK, …)
    second = first[: 1024 * 1024] + os.urandom(256 * 1024) + first[1280 * 1024 :]  # a new middle
    api.upload_file(path_or_fileobj=first, path_in_repo="model.safetensors", repo_id="upco/xet-model")
    first_commit = api.model_info("upco/xet-model").sha
    api.create_branch("upco/xet-model", branch="v1", revision=first_commit)
    api.upload_file(path_or_fileobj=second, path_in_repo="model.safetensors", repo_id="upco/xet-model")
    gated = b"\0" + os.urandom(1024 * 1024 - 1)
    api.upload_file(path_or_fileobj=gated, path_in_repo="weights.safetensors", repo_id="upco/gated-xet")
    return XetSeeded(
        first=first,
        second=second,
        first_commit=first_commit,
        main_commit=api.model_info("upco/xet-model").sha,
        gated=gated,
        gated_commit=api.model_info("upco/gated-xet").sha,
    )


@pytest.fixture(scope="session")
def upstream_tiny_pipeline(upstream_hub, tmp_path_factory) -> tuple[dict[str, bytes], str]:
    """A tiny random-weight diffusers pipeline (built here, offline: tests/support/tiny_pipeline.py)
    uploaded to the upstream's `upco/tiny-sd` through hf_xet; (its files, the commit)."""
    from tests.support.tiny_pipeline import build_tiny_pipeline, folder_files

    folder = build_tiny_pipeline(tmp_path_factory.mktemp("tiny-upstream") / "pipe")
    api = upstream_api(upstream_hub)
    commit = api.upload_folder(folder_path=folder, repo_id="upco/tiny-sd").oid
    return folder_files(folder), commit


@pytest.fixture(autouse=True)
def _evict_at_any_age(settings):
    """The tests' objects are all young; the minimum age has its own test (test_eviction.py)."""
    settings.GATEHOUSE_MIRROR_EVICT_MIN_AGE = 0


@pytest.fixture(autouse=True)
def _background_fetches_end():
    """No fetch thread of a test (mirror/spool.py) may outlive it: its database is emptied next."""
    yield
    from mirror import spool

    deadline = time.monotonic() + 60
    while spool.running_fetches() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.running_fetches(), "a mirror fetch thread outlived its test"
