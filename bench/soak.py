"""Soak: `make run`'s configuration under a steady load for a long time (issue 17; `make soak`).

Starts scripts/supervise.py with the Procfile on a private port and var/ (SQLite, the
gatehouse-fs broker, gunicorn and a Celery worker with beat), seeds repos, measures the capacity
of the mix with a closed loop, then sends an open-loop, bounded load at half of it for
`--minutes` (default 60). Mix: 60% downloads (HEAD and GET /resolve, public repos anonymously
and private ones with a token, over all seeded repos), 20% API reads (model_info, listings),
15% small commits to several branches, 5% commits of a 1.5 MiB file (inline, base64), each
commit writing one of FILE_SLOTS paths of its branch. Access requests, discussions and previews
are not in the mix yet.

Reports requests by kind, 429s apart from errors, p50/p99 latency, and the RSS of every process
after the warm-up and at the end. Exit status 1 on any 5xx or failed request, any process death,
or RSS growth past 10% after the warm-up.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
REPOS = 16
BRANCHES = ("main", "dev", "exp")
# Commits write one of this many paths per branch, as a working repo updates its files: the repos
# stop growing once each slot was written, so RSS growth after the warm-up measures leaks, not a
# data set that grows for the whole run (the per-process tree caches are bounded by count).
FILE_SLOTS = 64


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss(root_pid: int) -> dict[int, tuple[str, int]]:
    """pid -> (command, RSS bytes) for the manager and every descendant."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, todo = {root_pid}, [root_pid]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found.add(child)
                todo.append(child)
    result = {}
    for pid in found:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        if rss:
            result[pid] = (cmd[:80], int(rss.group(1)) * 1024)
    return result


class Load:
    """The mix of requests, with each kind's latencies and statuses (bench/pg_load.py uses it too)."""

    def __init__(self, url: str, token: str, private: set[str], *, namespace: str = "alice", repos: int = REPOS):
        self.url, self.token, self.private = url, token, private
        self.namespace, self.repos = namespace, repos
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.lock = threading.Lock()
        self.session = threading.local()

    def _http(self) -> requests.Session:
        if not hasattr(self.session, "s"):
            self.session.s = requests.Session()
        return self.session.s

    def record(self, kind: str, started: float, status: int) -> None:
        with self.lock:
            self.latencies[kind].append(time.perf_counter() - started)
            self.statuses[kind][status] += 1

    def one(self, rng: random.Random) -> None:
        roll = rng.random()
        repo = f"{self.namespace}/r{rng.randrange(self.repos)}"
        auth = {"Authorization": f"Bearer {self.token}"} if repo in self.private or rng.random() < 0.5 else {}
        started = time.perf_counter()
        try:
            if roll < 0.6:
                kind = "download HEAD" if rng.random() < 0.5 else "download GET"
                path = rng.choice(["README.md", "config.json", "weights.bin"])
                method = "HEAD" if kind == "download HEAD" else "GET"
                response = self._http().request(method, f"{self.url}/{repo}/resolve/main/{path}", headers=auth)
                response.content  # noqa: B018 - read the body
            elif roll < 0.8:
                kind = "api read"
                target = (
                    f"/api/models/{repo}" if rng.random() < 0.7 else f"/api/models?author={self.namespace}&limit=20"
                )
                response = self._http().get(f"{self.url}{target}", headers={"Authorization": f"Bearer {self.token}"})
            else:
                kind = "commit small" if roll < 0.95 else "commit large"
                size = 1536 * 1024 if kind == "commit large" else rng.randrange(10, 4000)
                path = f"soak/{rng.randrange(FILE_SLOTS)}.bin"
                response = self.commit(repo, rng.choice(BRANCHES), path, rng.randbytes(size))
            self.record(kind, started, response.status_code)
        except requests.RequestException:
            self.record("failed", started, 0)

    def commit(self, repo: str, branch: str, path: str, data: bytes) -> requests.Response:
        import base64
        import json

        lines = [
            {"key": "header", "value": {"summary": "soak", "description": ""}},
            {
                "key": "file",
                "value": {
                    "path": path,
                    "encoding": "base64",
                    "content": base64.b64encode(data).decode(),
                },
            },
        ]
        body = "\n".join(json.dumps(line) for line in lines)
        return self._http().post(
            f"{self.url}/api/models/{repo}/commit/{branch}",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/x-ndjson"},
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def seed_repos(url: str, token: str, *, namespace: str, count: int) -> set[str]:
    """`count` repos (every other one private) with a README, a config, 2 MiB of weights and the
    BRANCHES; returns the private ones."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is imported
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=url, token=token)
    private = set()
    for i in range(count):
        repo = f"{namespace}/r{i}"
        api.create_repo(repo, private=i % 2 == 1)
        if i % 2:
            private.add(repo)
        files = {"README.md": b"# soak\n", "config.json": b'{"a": 1}\n', "weights.bin": os.urandom(2 * 1024 * 1024)}
        api.create_commit(repo, [CommitOperationAdd(p, d) for p, d in files.items()], commit_message="seed")
        for branch in BRANCHES[1:]:
            api.create_branch(repo, branch=branch)
    return private


def measure_capacity(load: Load, *, seconds: float, clients: int, rng: random.Random) -> float:
    """Requests a second that `clients` closed-loop clients get through the mix."""
    deadline = time.monotonic() + seconds
    done = 0
    lock = threading.Lock()

    def closed_loop(local: random.Random) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            load.one(local)
            with lock:
                done += 1

    threads = [threading.Thread(target=closed_loop, args=(random.Random(rng.random()),)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done / seconds


def open_loop(
    load: Load,
    *,
    rate: float,
    seconds: float,
    max_in_flight: int,
    rng: random.Random,
    on_tick: Callable[[float], None] = lambda elapsed: None,
) -> int:
    """Send requests at `rate` a second, whatever the answers' pace (open loop), never more than
    `max_in_flight` at once (bounded: a request due while all are busy is dropped and counted).
    `on_tick(elapsed)` runs before each request. Returns the number dropped."""
    in_flight = threading.Semaphore(max_in_flight)
    dropped = 0
    start = time.monotonic()
    end = start + seconds
    with ThreadPoolExecutor(max_workers=max_in_flight) as pool:
        n = 0
        while time.monotonic() < end:
            due = start + n / rate
            n += 1
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            on_tick(time.monotonic() - start)
            if not in_flight.acquire(blocking=False):
                dropped += 1
                continue
            seed = rng.random()

            def task(seed: float = seed) -> None:
                try:
                    load.one(random.Random(seed))
                finally:
                    in_flight.release()

            pool.submit(task)
    return dropped


def print_table(load: Load) -> int:
    """Prints requests by kind, 429s apart from errors, p50/p99; returns the 5xx and failed count."""
    errors = 0
    columns = f"{'requests':>10}{'2xx/3xx':>10}{'429':>6}{'4xx':>6}{'5xx':>6}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}"
    print(f"\n{'kind':<16}{columns}")
    for kind in sorted(load.latencies):
        codes = load.statuses[kind]
        ok = sum(c for s, c in codes.items() if 200 <= s < 400)
        limited = codes.get(429, 0)
        client = sum(c for s, c in codes.items() if 400 <= s < 500 and s != 429)
        server = sum(c for s, c in codes.items() if s >= 500)
        failed = codes.get(0, 0)
        errors += server + failed
        lat = load.latencies[kind]
        print(
            f"{kind:<16}{len(lat):>10}{ok:>10}{limited:>6}{client:>6}{server:>6}{failed:>8}"
            f"{percentile(lat, 0.5) * 1000:>9.1f}{percentile(lat, 0.99) * 1000:>9.1f}"
        )
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds before the first RSS reading")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests a second (default: half the capacity measured first)"
    )
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="gatehouse-soak-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(GATEHOUSE_VAR_DIR=str(var), PORT=str(port), ACCESS_LOG="0", DJANGO_SETTINGS_MODULE="config.settings")
    py = sys.executable

    def manage(*argv: str) -> str:
        return subprocess.run(
            [py, "manage.py", *argv], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    manage("migrate", "--noinput", "-v0")
    manage("createuser", "alice", "--email", "alice@example.org", "--password", "x" * 24)
    token = manage("mint_token", "alice", "--role", "write", "--name", "soak").strip()
    log = var / "run.log"
    with log.open("wb") as out:
        manager = subprocess.Popen([py, "scripts/supervise.py", "Procfile"], cwd=ROOT, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        private = seed_repos(url, token, namespace="alice", count=REPOS)
        rng = random.Random(17)
        capacity = measure_capacity(Load(url, token, private), seconds=args.capacity_seconds, clients=8, rng=rng)
        rate = args.rate or capacity / 2
        print(f"capacity {capacity:.1f} req/s (closed loop, 8 clients); soak at {rate:.1f} req/s", flush=True)
        load = Load(url, token, private)  # the soak's own figures
        warm: dict[int, tuple[str, int]] | None = None

        def read_warm_rss(elapsed: float) -> None:
            nonlocal warm
            if warm is None and elapsed >= args.warmup:
                warm = tree_rss(manager.pid)

        dropped = open_loop(
            load, rate=rate, seconds=args.minutes * 60, max_in_flight=args.max_in_flight, rng=rng, on_tick=read_warm_rss
        )
        final = tree_rss(manager.pid)
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=30)

    text = log.read_text(errors="replace")
    deaths = re.findall(r"supervise \| (\S+) exited with status (-?\d+)", text)
    worker_deaths = len(re.findall(r"was sent SIGKILL|Worker \(pid:\d+\) exited with code", text))
    errors = print_table(load)
    print(f"dropped by the in-flight bound: {dropped}")
    growth_failed = False
    if warm is None:
        print("RSS: the run ended before the warm-up did (use --minutes longer than --warmup)")
    else:
        print(f"\n{'pid':>8} {'RSS warm MiB':>13} {'RSS end MiB':>12} {'growth':>8}  command")
        for pid, (cmd, rss) in sorted(warm.items()):
            end_rss = final.get(pid, (cmd, 0))[1]
            growth = (end_rss - rss) / rss if rss and end_rss else float("nan")
            flag = ""
            if pid not in final:
                flag = "  (gone: recycled or died)"
            elif growth > 0.10:
                growth_failed, flag = True, "  > 10%"
            print(f"{pid:>8} {rss / 2**20:>13.1f} {end_rss / 2**20:>12.1f} {growth:>8.1%}  {cmd}{flag}")
    print(f"\nprocess deaths seen by the manager: {deaths or 'none'}; gunicorn workers lost: {worker_deaths}")
    failed_run = errors or deaths or worker_deaths or growth_failed
    print("RESULT:", "FAIL" if failed_run else "PASS", f"(logs and data in {var})")
    return 1 if failed_run else 0


if __name__ == "__main__":
    sys.exit(main())
