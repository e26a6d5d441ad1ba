"""What the gate check costs on /resolve: requests per second for an approved user on a gated repo
against the same request on an ungated repo, with 100,000 access requests and grants in the
database. Goal (issue 4): the gated request adds at most 25%, i.e. gated rps >= ungated rps / 1.25.

    .venv/bin/python bench/gate_check_rps.py [--seconds 8] [--rounds 3] [--method GET|HEAD]

Gatehouse runs as deployed (gunicorn -c config/gunicorn.conf.py) on a throw-away var dir (SQLite)
or on DATABASE_URL when set (migrated; the bench's own rows are replaced on each run). Load comes
from wrk when installed (apt-get install -y wrk), else from a keep-alive Python loop: ungated and
gated runs alternate and their medians are printed. The verdict comes from a second, interleaved
measurement, in which every connection alternates ungated and gated requests: load from anything
else on the machine then falls on both kinds alike, and with the server saturated the ratio of
mean latencies is the ratio of requests per second. The file requested is not a download-counting
file, so no write happens per request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON = str(BIN / "python") if (BIN / "python").exists() else sys.executable
OWNER, APPROVED = "gatebench", "gatebench-approved"
FILE = "weights/part-0.bin"
GOAL = 1.25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(count: int) -> dict:
    """Runs in a child process with the server's environment: repos, users, requests, a token."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import User
    from gating.models import AccessRequest
    from registry import services
    from registry.models import Repo
    from registry.selectors import gitattributes_at

    Repo.objects.filter(namespace=OWNER).delete()
    User.objects.filter(username__startswith=f"{OWNER}-").delete()
    User.objects.filter(username=OWNER).delete()
    owner = User.objects.create_user(username=OWNER, email=f"{OWNER}@example.org")
    approved = User.objects.create_user(username=APPROVED, email=f"{APPROVED}@example.org")
    _, token = account_services.token_create(user=approved, name="gate-bench", role="read")
    for name in ("open", "gated"):
        repo = services.repo_create(namespace=OWNER, name=name, creator=owner)
        attributes = gitattributes_at(repo, "main")
        operations = [
            services.blob_stage(
                repo=repo, proof_from=None, path="config.json", content=b'{"hidden": 8}', gitattributes=attributes
            ),
            services.blob_stage(
                repo=repo, proof_from=None, path=FILE, content=b"\x01" * 4096, gitattributes=attributes
            ),
        ]
        services.commit_create(repo=repo, branch="main", operations=operations, summary="bench", author=owner)
    gated = services.repo_settings_update(repo=Repo.objects.get(namespace=OWNER, name="gated"), gated="manual")
    now = timezone.now()
    statuses = ["accepted", "pending", "accepted", "rejected", "pending"]
    batch = 5000
    for start in range(0, count - 1, batch):
        users = User.objects.bulk_create(
            User(username=f"{OWNER}-{n}", email=f"{OWNER}-{n}@example.org", password=make_password(None))
            for n in range(start, min(start + batch, count - 1))
        )
        AccessRequest.objects.bulk_create(
            AccessRequest(
                repo=gated,
                user=user,
                status=statuses[n % len(statuses)],
                fields={"Company": f"Company {n}", "Country": "FR"},
                created_at=now - timedelta(minutes=n),
                expires_at=now + timedelta(days=30) if n % 3 == 0 else None,
            )
            for n, user in enumerate(users, start=start)
        )
    # The measured caller: accepted, with an expiry, so the whole grant expression is evaluated.
    AccessRequest.objects.create(
        repo=gated, user=approved, status="accepted", fields={"Company": "Bench"}, expires_at=now + timedelta(days=30)
    )
    return {
        "token": token,
        "requests": AccessRequest.objects.filter(repo=gated).count(),
        "queries": {name: count_queries(name, token) for name in ("open", "gated")},
    }


def count_queries(name: str, token: str) -> int:
    """SQL queries of one GET as the approved user (a deterministic view of what the gate adds)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get(f"/{OWNER}/{name}/resolve/main/{FILE}")  # warm caches, as a running server has them
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/{OWNER}/{name}/resolve/main/{FILE}").status_code == 200
    return len(captured)


class Server:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "GATEHOUSE_VAR_DIR": str(workdir / "var"),
            "SECRET_KEY": "gate-bench-" + "x" * 40,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "ACCESS_LOG": "0",
            "LOG_LEVEL": "WARNING",
        }
        self.log = workdir / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def run(self, *args: str) -> str:
        result = subprocess.run([PYTHON, *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(args[:2])} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"gunicorn exited; see {self.log}") from None
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def request(port: int, method: str, path: str, token: str | None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def wrk_rps(port: int, method: str, path: str, token: str, seconds: int, connections: int, threads: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            script.name,
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise SystemExit(f"errors under load:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def loop_rps(port: int, method: str, path: str, token: str, seconds: int, connections: int, _threads: int) -> float:
    """Fallback load: one keep-alive connection per thread."""
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"status {response.status} under load")
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def interleaved_latency(port: int, method: str, paths: dict[str, str], token: str, seconds: int, connections: int):
    """Each connection alternates ungated and gated requests, so load from anything else on the
    machine falls on both alike: mean seconds a request of each kind takes."""
    totals = {name: [0.0, 0] for name in paths}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = {name: [0.0, 0] for name in paths}
        while time.monotonic() < stop:
            for name, path in paths.items():
                started = time.perf_counter()
                conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                local[name][0] += time.perf_counter() - started
                local[name][1] += 1
                if response.status != 200:
                    raise SystemExit(f"status {response.status} under load")
        with lock:
            for name, (spent, count) in local.items():
                totals[name][0] += spent
                totals[name][1] += count

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: spent / count for name, (spent, count) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--method", choices=["GET", "HEAD"], default="GET", help="HEAD uses the Python loop")
    parser.add_argument("--requests", type=int, default=100_000, help="access requests and grants in the database")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        print(json.dumps(seed(args.seed)))
        return
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-gatebench-"))
    server = Server(workdir)
    try:
        server.run("manage.py", "migrate", "--noinput", "-v0")
        info = json.loads(server.run(str(Path(__file__)), "--seed", str(args.requests)).strip().splitlines()[-1])
        server.start()
        paths = {name: f"/{OWNER}/{name}/resolve/main/{FILE}" for name in ("open", "gated")}
        token = info["token"]
        # The gate is really on: anonymous gets 401, the approved user 200, on both methods.
        assert request(server.port, args.method, paths["gated"], None) == 401
        for name in paths:
            for _ in range(20):  # warm every worker's URLconf and caches
                assert request(server.port, args.method, paths[name], token) == 200
        # wrk waits for a body after HEAD responses and never completes a request: HEAD uses the loop.
        measure = wrk_rps if shutil.which("wrk") and args.method == "GET" else loop_rps
        results: dict[str, list[float]] = {"open": [], "gated": []}
        for round_number in range(args.rounds):
            order = ("open", "gated") if round_number % 2 == 0 else ("gated", "open")
            for name in order:
                rps = measure(
                    server.port, args.method, paths[name], token, args.seconds, args.connections, args.threads
                )
                results[name].append(rps)
                print(f"round {round_number + 1} {name:>5}: {rps:8.1f} req/s", flush=True)
        open_rps, gated_rps = statistics.median(results["open"]), statistics.median(results["gated"])
        if not open_rps or not gated_rps:
            raise SystemExit("no request completed under load")
        database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
        print(
            f"{args.method} /resolve, {info['requests']:,} access requests in {database}, "
            f"load from {'wrk' if measure is wrk_rps else 'python'} ({args.connections} connections)"
        )
        print(f"ungated {open_rps:.1f} req/s, gated (approved user) {gated_rps:.1f} req/s")
        print(f"SQL queries per request: ungated {info['queries']['open']}, gated {info['queries']['gated']}")
        latency = interleaved_latency(server.port, args.method, paths, token, args.seconds * 2, args.connections)
        added = latency["gated"] / latency["open"]
        print(f"alternating runs: rps ratio gated/ungated = {gated_rps / open_rps:.3f} (medians; noisy on a busy host)")
        print(
            f"interleaved: ungated {latency['open'] * 1000:.2f} ms, gated {latency['gated'] * 1000:.2f} ms a request; "
            f"rps ratio gated/ungated = {1 / added:.3f}, the gate adds {added - 1:.1%} (goal: at most 25%)"
        )
        print("PASS" if added <= GOAL else "FAIL")
        sys.exit(0 if added <= GOAL else 1)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
