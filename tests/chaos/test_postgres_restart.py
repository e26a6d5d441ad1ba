"""PostgreSQL crashes (`pg_ctl stop -m immediate`) under a running web tier (issue 17; G4).

On a private PostgreSQL (tests/chaos/services.py), a real gunicorn serves the Hub client. While
the database is down, requests get 503 with Retry-After (never 500) and /healthz still answers;
requests in flight when it crashes (commits and reads from several threads) end in 200 or 503,
never a 500 or a dropped connection; once it is back (after WAL replay) the same web processes
serve again, no restart, and every commit acknowledged before the crash is there and fsck passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from tests.chaos import services
from tests.e2e.conftest import wait_for
from tests.support.gunicorn import ROOT, gunicorn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not services.available(), reason="needs PostgreSQL's server binaries and runuser"),
]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def status(url: str, method: str = "GET") -> int:
    try:
        return requests.request(method, url, timeout=10).status_code
    except requests.RequestException:
        return 0


def test_web_tier_answers_503_while_postgres_is_down_and_recovers_without_restart(tmp_path):
    with services.private_postgres() as pg:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=pg.url,
            GATEHOUSE_VAR_DIR=str(tmp_path / "var"),
            GATEHOUSE_STORAGE_ROOT=str(tmp_path / "storage"),
        )
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "createuser", "alice", "--email", "alice@example.org", "--password", "x" * 24)
        token = manage(env, "mint_token", "alice", "--role", "write", "--name", "chaos").strip()
        log = tmp_path / "gunicorn.log"
        with gunicorn("config.wsgi", log=log, env=env) as url:
            api = HfApi(endpoint=url, token=token)
            api.create_repo("alice/ledger")
            acknowledged = [
                api.upload_file(path_or_fileobj=f"{i}\n".encode(), path_in_repo=f"f{i}", repo_id="alice/ledger").oid
                for i in range(3)
            ]
            info = f"{url}/api/models/alice/ledger"
            resolve = f"{url}/alice/ledger/resolve/main/f0"
            assert status(info) == 200

            outcomes, acknowledged_in_flight = in_flight_through(pg.crash, api, info)
            assert outcomes and set(outcomes) <= {200, 503}, outcomes
            acknowledged += acknowledged_in_flight

            during = {"info": status(info), "resolve": status(resolve, "HEAD"), "readyz": status(f"{url}/readyz")}
            assert during == {"info": 503, "resolve": 503, "readyz": 503}
            body = requests.get(info, timeout=10)
            assert body.headers["X-Error-Code"] == "ServiceUnavailable" and body.headers["Retry-After"] == "5"
            assert status(f"{url}/healthz") == 200  # liveness does not depend on the database

            pg.start()

            wait_for(lambda: status(info) == 200, timeout=30, what="the web tier to serve again")
            commits = {c.commit_id for c in api.list_repo_commits("alice/ledger")}
            assert set(acknowledged) <= commits
            assert status(f"{url}/readyz") == 200
        text = log.read_text(errors="replace")
        assert text.count("Booting worker") == 1, text[-3000:]  # no worker died or was replaced
        assert "Internal Server Error" not in text
        manage(env, "registry_fsck", "--rehash")


def in_flight_through(crash, api: HfApi, info: str) -> tuple[list[int], list[str]]:
    """Three threads committing and one reading, in a loop, while `crash` runs: every status they
    got (0: the connection failed), and the commits acknowledged."""
    outcomes: list[int] = []
    acknowledged: list[str] = []
    stop = threading.Event()

    def commit(worker: int) -> None:
        for number in range(1000):
            if stop.is_set():
                return
            try:
                content = f"{worker}-{number}\n".encode()
                path = f"in-flight/{worker}/{number}"
                acknowledged.append(
                    api.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id="alice/ledger").oid
                )
                outcomes.append(200)
            except HfHubHTTPError as exc:
                outcomes.append(exc.response.status_code)
            except requests.RequestException:
                outcomes.append(0)

    def read() -> None:
        while not stop.is_set():
            outcomes.append(status(info))

    threads = [threading.Thread(target=commit, args=(n,)) for n in range(3)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    crash()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes, acknowledged
