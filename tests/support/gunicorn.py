"""Run a real gunicorn (core.gunicorn_worker, gthread with heads read in its loop, as deployed) in a
child process for a test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    app: str,
    *,
    log: Path,
    env: dict[str, str] | None = None,
    threads: int = 2,
    worker_class: str = "core.gunicorn_worker.Worker",
):
    """Serve the WSGI `app` ("module:callable") on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-k", worker_class, "--threads", str(threads), "-w", "1"]
    command += ["-b", f"127.0.0.1:{port}", "--timeout", "120", app]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a Gatehouse a test serves with gunicorn: the suite's database and blob
    store (so the test's own rows and files are there), a var folder of its own, and `extra`."""
    from django.conf import settings

    from tests.e2e.conftest import worker_database_url

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        **extra,
    }


@contextmanager
def deployed_gunicorn(*, log: Path, env: dict[str, str], workers: int = 2):
    """gunicorn as README's Deploying section runs it (`-c config/gunicorn.conf.py`, its hooks
    included) with `workers` processes on a free port; yields its base URL once /healthz answers.
    Stopped with SIGTERM, as a process manager stops it."""
    import requests

    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "WEB_WORKERS": str(workers), "ACCESS_LOG": "0", **env}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=full_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
