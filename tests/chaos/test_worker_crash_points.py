"""kill -9 of a Celery worker in the middle of a pickle scan, under `make run`'s process manager
with its embedded defaults (SQLite, the gatehouse-fs broker; issue 17).

The worker's pool child scans the file and SIGKILLs itself before recording the verdict (the
`scan.before_record` crash point, armed once across processes). The scan must still end with
exactly one verdict, sent again by the beat's requeue (GATEHOUSE_SCAN_RETRY_AFTER, short here),
within the allowed attempts; the web tier keeps answering throughout.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys

import pytest
import requests
from huggingface_hub import HfApi

from tests.e2e.conftest import wait_for
from tests.support.gunicorn import ROOT, free_port

pytestmark = pytest.mark.slow

PICKLE = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)  # harmless: the scanner says safe


def scans(env: dict[str, str]) -> list[dict]:
    code = (
        "import json; from registry.models import FileScan; "
        "print(json.dumps([{'name': s.filename, 'status': s.status, 'attempts': s.attempts} "
        "for s in FileScan.objects.all()]))"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_worker_killed_mid_scan_records_the_verdict_exactly_once(tmp_path):
    state = tmp_path / "faults"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        GATEHOUSE_VAR_DIR=str(tmp_path / "var"),
        PORT=str(free_port()),
        WEB_WORKERS="1",
        ACCESS_LOG="0",
        GATEHOUSE_FAULTPOINTS="scan.before_record:1",
        GATEHOUSE_FAULTPOINTS_STATE=str(state),
        GATEHOUSE_SCAN_RETRY_AFTER="5",
    )

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    manage("createuser", "alice", "--email", "a@example.org", "--password", "x" * 24)
    token = manage("mint_token", "alice", "--role", "write").strip()
    url = f"http://127.0.0.1:{env['PORT']}"
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        command = [sys.executable, "scripts/supervise.py", "Procfile"]
        manager = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        wait_for(lambda: "ready." in log.read_text(errors="replace"), timeout=120, what="the worker")
        api = HfApi(endpoint=url, token=token)
        api.create_repo("alice/pickled")
        api.upload_file(path_or_fileobj=PICKLE, path_in_repo="model.pkl", repo_id="alice/pickled")

        wait_for(lambda: (state / "scan.before_record.1").exists(), timeout=120, what="the crash point")
        wait_for(
            lambda: any(s["name"] == "model.pkl" and s["status"] != "queued" for s in scans(env)),
            timeout=180,
            what="the scan to be recorded after the crash",
        )
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=30)

    text = log.read_text(errors="replace")
    assert "signal 9" in text or "SIGKILL" in text, text[-3000:]  # the child really died there
    (scan,) = [s for s in scans(env) if s["name"] == "model.pkl"]
    assert scan["status"] == "safe", scan  # the scan's own verdict, not `error` (given up)
    assert scan["attempts"] <= 3
    passes = sorted(p.name for p in state.iterdir())
    assert passes[0] == "scan.before_record.1" and len(passes) >= 2  # died once, then passed again
