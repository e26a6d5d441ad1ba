"""End-to-end fixtures: real Celery worker processes on Redis, and Playwright on Debian's Chromium.

A worker is a separate process, so it must share the test database (Postgres; SQLite's in-memory
test database cannot be shared) and the broker (Redis). Tests that need one skip with a reason
when REDIS_URL or a Postgres DATABASE_URL is missing; CI sets both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from tests.support.previews import *  # noqa: F401,F403 - fixtures

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 120


def require_worker_services() -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the worker process consumes a real Redis broker")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs a Postgres DATABASE_URL: the worker process must share the test database")


def worker_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Drop messages left by earlier tests (their job ids are gone) and unacked leftovers."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete("gpu", "celery", "unacked", "unacked_index", "unacked_mutex")


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crash or OOM kill would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class WorkerSetup:
    """Paths and settings shared by the test process and its workers."""

    root: Path
    checker: Path

    @property
    def media(self) -> Path:
        return self.root / "media"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def apply(self, django_settings) -> None:
        django_settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(self.checker)
        django_settings.GATEHOUSE_PREVIEW_MEDIA_ROOT = self.media
        django_settings.GATEHOUSE_PREVIEW_MODEL_CACHE = self.models
        django_settings.GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS = ""
        django_settings.GATEHOUSE_PREVIEW_SLD_MINIMUM = "off"

    def start(self, *, name: str, beat: bool = False, env: dict | None = None) -> WorkerProcess:
        require_worker_services()
        log = self.root / f"{name}.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": worker_database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": os.environ["REDIS_URL"],
            "GATEHOUSE_VAR_DIR": str(self.root / f"var-{name}"),
            "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
            "GATEHOUSE_SAFETY_CHECKER_PATH": str(self.checker),
            "GATEHOUSE_PREVIEW_MEDIA_ROOT": str(self.media),
            "GATEHOUSE_PREVIEW_MODEL_CACHE": str(self.models),
            "GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS": "",
            "GATEHOUSE_PREVIEW_SLD_MINIMUM": "off",
            "HF_HUB_OFFLINE": "1",
            **(env or {}),
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "-c", "1"]
        command += ["-Q", "gpu,celery", "-n", f"{name}@%h", "--loglevel", "INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        if beat:
            command += ["--beat", "--schedule", str(self.root / f"beat-{name}")]
        handle = log.open("w")
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        worker = WorkerProcess(process, log)
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while " ready." not in worker.output():
            if process.poll() is not None or time.monotonic() > deadline:
                worker.kill()
                pytest.fail(f"the Celery worker did not start:\n{worker.output()[-3000:]}")
            time.sleep(0.2)
        return worker


@pytest.fixture(scope="module")
def worker_setup(tmp_path_factory, checker_dir, django_db_setup):
    """Per module: a folder for worker media and models, purged broker queues."""
    require_worker_services()
    purge_broker()
    root = tmp_path_factory.mktemp("workers")
    yield WorkerSetup(root=root, checker=checker_dir)
    shutil.rmtree(root / "models", ignore_errors=True)


@pytest.fixture(scope="module")
def celery_worker(worker_setup):
    """One worker for the module, stopped before the test database is dropped."""
    worker = worker_setup.start(name="e2e")
    yield worker
    worker.stop()


@pytest.fixture
def e2e_settings(settings, worker_setup):
    worker_setup.apply(settings)
    return settings


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright has no switch for a system browser: use Debian's Chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/ensure-chromium installs it)")
    flags = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    return {**browser_type_launch_args, "executable_path": chromium, "args": [*flags, "--no-first-run"]}
