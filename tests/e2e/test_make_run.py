"""`make run`'s process manager (scripts/supervise.py) with the embedded defaults: SQLite, the
gatehouse-fs broker, gunicorn, a Celery worker and beat (issue 17, step 1).

A worker killed with SIGKILL is restarted while the web tier keeps answering; tasks still go
through the broker to the new worker; SIGTERM to the manager leaves no process of any of its
process groups behind, children of children included.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import wait_for
from tests.support.gunicorn import ROOT, free_port

STOP_BOUND = 10.0  # the bound for Ctrl-C / SIGTERM


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def process_groups(pids: set[int]) -> set[int]:
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile
            groups.add(os.getpgid(pid))
    return groups


def leader(log: Path, name: str) -> int:
    """The pid of the last start of `name`, as the manager logged it."""
    starts = re.findall(rf"supervise \| {name} started \(pid (\d+)\)", log.read_text(errors="replace"))
    return int(starts[-1]) if starts else 0


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/models", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def readiness(url: str) -> str:
    try:
        return requests.get(f"{url}/readyz", timeout=5).json()["status"]
    except (requests.RequestException, ValueError):
        return ""


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        GATEHOUSE_VAR_DIR=str(tmp_path / "var"),
        PORT=str(free_port()),
        WEB_WORKERS="1",
        ACCESS_LOG="0",
        GATEHOUSE_HEARTBEAT_INTERVAL="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def test_worker_killed_is_restarted_web_keeps_serving_and_sigterm_leaves_nothing(embedded_env, tmp_path):
    log = tmp_path / "run.log"
    url = f"http://127.0.0.1:{embedded_env['PORT']}"
    with log.open("wb") as out:
        manager = subprocess.Popen(
            [sys.executable, "scripts/supervise.py", "Procfile"], cwd=ROOT, env=embedded_env, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: answers(url), timeout=60, what="the web tier")
        wait_for(lambda: "ready." in log.read_text(errors="replace"), timeout=90, what="the worker")
        wait_for(lambda: readiness(url) == "ok", timeout=60, what="beat and worker heartbeats in /readyz")
        first_worker, first_beat = leader(log, "worker"), leader(log, "beat")
        web = leader(log, "web")

        os.kill(first_worker, signal.SIGKILL)
        # Beat is an entry of its own (found by an outsider: a beat inside the worker that died
        # left the worker running and nothing scheduled ever again).
        os.kill(first_beat, signal.SIGKILL)

        wait_for(lambda: leader(log, "worker") not in (0, first_worker), timeout=30, what="a new worker")
        wait_for(lambda: leader(log, "beat") not in (0, first_beat), timeout=30, what="a new beat")
        assert answers(url)
        assert leader(log, "web") == web  # the web tier was never restarted
        assert not group_alive(first_worker)  # the dead worker's pool went with it
        wait_for(lambda: log.read_text(errors="replace").count("ready.") >= 2, timeout=90, what="the new worker")
        call = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "call", "workers.tasks.preview_reap_task"],
            cwd=ROOT,
            env=embedded_env,
            capture_output=True,
            text=True,
            check=True,
        )
        task_id = call.stdout.strip()
        wait_for(
            lambda: re.search(rf"preview_reap_task\[{task_id}\] succeeded", log.read_text(errors="replace")),
            timeout=60,
            what="the task to run on the restarted worker",
        )
        assert "Unrecoverable error" not in log.read_text(errors="replace")

        groups = process_groups(descendants(manager.pid))
        assert len(groups) == 3  # web, worker and beat, each in its own group
        manager.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        manager.wait(timeout=STOP_BOUND)
        wait_for(lambda: not any(map(group_alive, groups)), timeout=STOP_BOUND, what="every child to exit")
        assert time.monotonic() - stopped_at < STOP_BOUND
        assert manager.returncode == 0
        assert not answers(url)
    finally:
        if manager.poll() is None:
            for pgid in process_groups(descendants(manager.pid)):
                os.killpg(pgid, signal.SIGKILL)
            manager.kill()
            manager.wait()


def test_entry_failing_at_its_first_start_stops_everything(tmp_path):
    """A bad setting: `make run` ends with status 1 instead of retrying forever,
    and takes the healthy entries down with it (as honcho did)."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("broken: false\nhealthy: sleep 300\n")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        manager = subprocess.Popen([sys.executable, str(ROOT / "scripts/supervise.py"), str(procfile)], stderr=out)
    try:
        wait_for(lambda: leader(log, "healthy"), timeout=30, what="the healthy entry")
        healthy = leader(log, "healthy")

        assert manager.wait(timeout=60) == 1

        assert log.read_text().count("broken started") == 3
        assert not group_alive(healthy)
    finally:
        if manager.poll() is None:
            manager.kill()
            manager.wait()


def test_gunicorn_on_a_held_port_exits_with_tempfail(tmp_path):
    """config/gunicorn.conf.py probes its port before binding: held, it says so and exits with
    EX_TEMPFAIL (75), which the manager retries without counting a crash (the test below and,
    end to end, the slow test after it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**os.environ, "PORT": str(port), "WEB_WORKERS": "1", "GATEHOUSE_VAR_DIR": str(tmp_path / "var")}
        done = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "tests.support.socketbody_app:app"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 75, done.stderr[-2000:]
    assert f"Address 127.0.0.1:{port} is in use" in done.stderr


# 12 s: `make test-slow`; the exit itself and the manager's retries are checked beside it.
@pytest.mark.slow
def test_web_whose_port_is_still_held_waits_for_it_instead_of_giving_up(tmp_path):
    """A previous run's server still draining holds the port: gunicorn (config/gunicorn.conf.py)
    exits with EX_TEMPFAIL and the manager starts it again with a back-off, more times than the
    STARTRETRIES that end a crashing entry, until the port is free; then it serves."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: PORT={port} WEB_WORKERS=1 ACCESS_LOG=0 GATEHOUSE_VAR_DIR={tmp_path / 'var'} "
        f"{sys.executable} -m gunicorn -c config/gunicorn.conf.py tests.support.socketbody_app:app\n"
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        manager = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/supervise.py"), str(procfile)], cwd=ROOT, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: log.read_text().count("is held for now") >= 4, timeout=60, what="4 tries on a held port")
        assert f"Address 127.0.0.1:{port} is in use" in log.read_text()
        holder.close()

        wait_for(lambda: listening(port), timeout=60, what="gunicorn on the freed port")
        text = log.read_text()
        assert "giving up" not in text
        assert manager.poll() is None
    finally:
        holder.close()
        manager.send_signal(signal.SIGTERM)
        try:
            manager.wait(timeout=20)
        except subprocess.TimeoutExpired:
            manager.kill()
            manager.wait()


def test_an_entry_held_past_the_bound_stops_everything(tmp_path):
    """Waiting on a held resource is bounded (TEMPFAIL_WAIT, 60 s; 3 s here): then the manager
    says so and stops with status 1, as for an entry that keeps crashing at its first start."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("held: sleep 0.1; exit 75\nhealthy: sleep 300\n")
    log = tmp_path / "run.log"
    env = {**os.environ, "SUPERVISE_TEMPFAIL_WAIT": "3"}
    started = time.monotonic()
    with log.open("wb") as out:
        manager = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/supervise.py"), str(procfile)], env=env, stderr=out
        )
    try:
        wait_for(lambda: leader(log, "healthy"), timeout=30, what="the healthy entry")
        healthy = leader(log, "healthy")

        assert manager.wait(timeout=60) == 1

        assert time.monotonic() - started >= 3
        text = log.read_text()
        assert text.count("held started") >= 4  # more than STARTRETRIES: a held port is no crash
        assert "held: what it needs (its port?) is still held after 3 s" in text
        assert not group_alive(healthy)
    finally:
        if manager.poll() is None:
            manager.kill()
            manager.wait()


def test_an_exit_reaped_while_another_group_is_emptied_is_still_handled(tmp_path):
    """Found by a review: emptying one entry's group reaped whatever else exited meanwhile and
    dropped it, so that entry was never logged nor restarted. `first` leaves a child that ignores
    SIGTERM (its group takes LEFTOVER_TIMEOUT to empty); `second` exits inside that window."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("first: sleep 0.5; (trap '' TERM; exec sleep 100) & exit 0\nsecond: sleep 2\n")
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        manager = subprocess.Popen([sys.executable, str(ROOT / "scripts/supervise.py"), str(procfile)], stderr=out)
    try:
        wait_for(lambda: "second exited with status 0" in log.read_text(), timeout=30, what="second's exit")
        wait_for(lambda: log.read_text().count("second started") >= 2, timeout=30, what="second's restart")
    finally:
        manager.send_signal(signal.SIGTERM)
        try:
            manager.wait(timeout=20)
        except subprocess.TimeoutExpired:
            manager.kill()
            manager.wait()
