"""Start and kill real Celery worker processes (used by e2e tests and bench/preview_overhead.py).

Plain Python, no pytest: a worker runs `celery -A config worker` in its own process group, so a
test can SIGKILL the parent and its pool children at once, as a crash or an OOM kill would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 120


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
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


def start_worker(
    *, name: str, folder: Path, env: dict[str, str], beat: bool = False, queues: str = "gpu,celery"
) -> WorkerProcess:
    """A worker consuming `queues` (by default the `gpu` and `celery` queues); returns once it
    reports ready."""
    log = folder / f"{name}.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "-c", "1"]
    command += ["-Q", queues, "-n", f"{name}@%h", "--loglevel", "INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat:
        command += ["--beat", "--schedule", str(folder / f"beat-{name}")]
    with log.open("w") as handle:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while " ready." not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the Celery worker did not start:\n{worker.output()[-3000:]}")
        time.sleep(0.2)
    return worker


def purge_broker(redis_url: str) -> None:
    """Drop queued and unacked messages left by earlier runs (their job ids are gone)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("gpu", "celery", "unacked", "unacked_index", "unacked_mutex")
