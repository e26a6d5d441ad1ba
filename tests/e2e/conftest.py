"""End-to-end fixtures: real Celery worker processes on Redis; Playwright drives Debian's Chromium
(Playwright's own browser download cannot work offline).

A worker is a separate process: it shares the test database (Postgres, or the SQLite test file)
and the broker, which must be Redis. Tests that need a worker skip with a reason when REDIS_URL is
not set; CI sets it, with Postgres.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from tests.support.previews import *  # noqa: F401,F403 - fixtures
from tests.support.worker_process import WorkerProcess, purge_broker, start_worker


def require_worker_services() -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the worker process consumes a real Redis broker")
    if settings.DATABASES["default"]["NAME"] == ":memory:" or "mode=memory" in str(
        settings.DATABASES["default"]["NAME"]
    ):
        pytest.skip("needs a database a second process can open (Postgres or an SQLite file)")


def worker_database_url() -> str:
    """The test database (pytest-django renamed it), for the worker process."""
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


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
        environment = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": os.environ["REDIS_URL"],
            "GATEHOUSE_VAR_DIR": str(self.root / f"var-{name}"),
            "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
            "GATEHOUSE_SAFETY_CHECKER_PATH": str(self.checker),
            "GATEHOUSE_PREVIEW_MEDIA_ROOT": str(self.media),
            "GATEHOUSE_PREVIEW_MODEL_CACHE": str(self.models),
            "GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS": "",
            "GATEHOUSE_PREVIEW_SLD_MINIMUM": "off",
            # One torch thread: the test process and the database share the same few cores.
            "GATEHOUSE_PREVIEW_CPU_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            **(env or {}),
        }
        try:
            return start_worker(name=name, folder=self.root, env=environment, beat=beat)
        except RuntimeError as exc:
            pytest.fail(str(exc))


@pytest.fixture(scope="module")
def worker_setup(tmp_path_factory, checker_dir, django_db_setup):
    """Per module: a folder for worker media and models, purged broker queues."""
    require_worker_services()
    purge_broker(os.environ["REDIS_URL"])
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


CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (scripts/ensure-chromium installs it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
