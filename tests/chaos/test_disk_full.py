"""Disk full (ENOSPC) while an upload is written (issue 17).

gunicorn runs in a mount namespace of its own whose blob store is a 2 MiB tmpfs. A small commit
fits; a 4 MiB LFS upload does not: the client gets 507, nothing becomes visible, no temporary
file is left, the next small commit still goes through (the failed write freed its space), and
`registry_fsck --rehash` passes on the store as the server left it.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from tests.e2e.conftest import worker_database_url
from tests.support.builders import UserFactory, token_for
from tests.support.gunicorn import ROOT, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nsenter") is None, reason="needs util-linux"),
]
NSENTER = ["nsenter", "--target"]


def serve_on_tiny_disk(storage: Path, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    mount_then_serve = 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"'
    command = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount_then_serve, str(storage)]
    command += [sys.executable, "-m", "gunicorn", "-k", "core.gunicorn_worker.Worker", "--threads", "2", "-w", "1"]
    command += ["-b", f"127.0.0.1:{port}", "config.wsgi"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(log.read_text(errors="replace")[-3000:]) from None
            time.sleep(0.1)


def test_upload_onto_a_full_disk_is_a_507_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the Git LFS path: a PUT of the whole file
    user = UserFactory(username="alice")
    storage = tmp_path / "storage"
    storage.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(storage),
        "CELERY_BROKER_URL": "gatehouse-fs://",
        "GATEHOUSE_LOOKUP_CACHE": "false",
    }
    process, url = serve_on_tiny_disk(storage, tmp_path / "gunicorn.log", env)
    try:
        seen = Path(f"/proc/{process.pid}/root") / storage.relative_to("/")  # the store in its namespace
        api = HfApi(endpoint=url, token=token_for(user))
        api.create_repo("alice/full")
        api.upload_file(path_or_fileobj=b"small\n", path_in_repo="small.txt", repo_id="alice/full")
        before = api.list_repo_commits("alice/full")

        with pytest.raises(RuntimeError) as refused:  # the client wraps the PUT's HTTP error
            big = random.Random(17).randbytes(4 * 1024 * 1024)  # incompressible
            api.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id="alice/full")

        error = refused.value.__cause__
        assert isinstance(error, HfHubHTTPError), refused.value
        assert error.response.status_code == 507
        assert error.response.headers["X-Error-Code"] == "InsufficientStorage"
        assert api.list_repo_commits("alice/full") == before
        assert "big.bin" not in api.list_repo_files("alice/full")
        assert [p for p in (seen / "tmp").rglob("*") if p.is_file()] == []
        api.upload_file(path_or_fileobj=b"still fits\n", path_in_repo="after.txt", repo_id="alice/full")
        assert "after.txt" in api.list_repo_files("alice/full")
        # The invariants' fsck, with a full re-hash, run where the store is: in the server's namespace.
        fsck = [*NSENTER, str(process.pid), "-m", sys.executable, str(ROOT / "manage.py"), "registry_fsck", "--rehash"]
        checked = subprocess.run(fsck, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not any(storage.iterdir())  # the tmpfs was the server's alone
