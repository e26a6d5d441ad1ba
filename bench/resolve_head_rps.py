"""`HEAD /resolve` on a public file under concurrent load vs a trivial Django view. Goal >= 0.5;
and the same HEAD with a bearer token vs without one. Goal >= 0.6.

Both endpoints are served by the same gunicorn (config/gunicorn.conf.py, the production setup)
and run the full middleware stack; `/healthz` does nothing else, so the ratio is what the
metadata path costs on top of Django itself: bearer auth, the policy's repo lookup, revision
and tree resolution, headers. The goal (>= half of healthz) means no hashing and no tree walks
per request.

The file is an LFS file (safetensors), the case huggingface_hub's HEAD before every download
hits. Requests are anonymous, as for any public file; a second ratio sends a bearer token, as
logged-in clients (and every download of a gated model) do, against the anonymous HEAD of the
same run: token authentication must cost little (core.lookup_cache keeps the token, the account
and the caller's lookup per process on PostgreSQL; on SQLite they are queries, cheap there).

Load: ApacheBench, `ab -k` (apt-get install -y --no-install-recommends apache2-utils), 16
keep-alive connections for --seconds each. Not wrk: wrk 4.1 does not know a HEAD response has
no body, waits for Content-Length bytes and completes 0 requests. Without ab, a Python generator
(processes x threads, one keep-alive http.client connection per thread) does the same, with
less headroom (it competes with the server for the 2 cores). Endpoints are
measured alternately, --rounds times, and the best round of each is compared.

Usage: .venv/bin/python bench/resolve_head_rps.py [--seconds 10] [--connections 16] [--rounds 2]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

FILENAME = "model.safetensors"
GOAL = 0.5
TOKEN_GOAL = 0.6


def ab_rps(url: str, method: str, *, seconds: int, connections: int, headers: dict[str, str]) -> tuple[float, int]:
    """ApacheBench with keep-alive (-k); -i sends HEAD. Light (one C thread), so it leaves the
    2 cores to the server; wrk cannot be used: it waits for a HEAD response's Content-Length
    worth of body that never comes (0 requests completed)."""
    command = ["ab", "-k", "-q", f"-c{connections}", f"-t{seconds}", "-n10000000"]
    command += ["-i"] if method == "HEAD" else []
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    failed = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or int(re.search(r"Failed requests:\s+(\d+)", out).group(1)):
        raise RuntimeError(f"{method} {url}: failed responses\n{out}")
    done = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1)), done


def _py_worker(url, method, headers, seconds, threads, results) -> None:
    parts = urlsplit(url)
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.monotonic() < deadline:
            conn.request(method, parts.path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 400:
                raise RuntimeError(f"{method} {url}: {response.status}")
            counts[index] += 1
        conn.close()

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(sum(counts))


def python_rps(url: str, method: str, *, seconds: int, connections: int, headers: dict[str, str]) -> tuple[float, int]:
    """Fallback load generator: a few processes so the client's GIL is not the only bottleneck."""
    procs = 4
    results: multiprocessing.Queue = multiprocessing.Queue()
    jobs = [
        multiprocessing.Process(target=_py_worker, args=(url, method, headers, seconds, connections // procs, results))
        for _ in range(procs)
    ]
    start = time.monotonic()
    for job in jobs:
        job.start()
    total = sum(results.get() for _ in jobs)
    for job in jobs:
        job.join()
    return total / (time.monotonic() - start), total


def summarize(rows: dict[str, list[tuple[float, float]]], args) -> int:
    for name, values in rows.items():
        rounds = ", ".join(f"{rps:.0f} req/s ({cpu:.2f} ms CPU)" for rps, cpu in values)
        print(f"  {name:<22} {rounds}")
    best = {name: max(rps for rps, _ in values) for name, values in rows.items()}
    cpu = {name: min(c for _, c in values) for name, values in rows.items()}
    database = "DATABASE_URL" if "DATABASE_URL" in os.environ else "SQLite"
    print(f"\nServer CPU per request, lowest round ({database}; a PostgreSQL server's own CPU is not counted):")
    for name, value in cpu.items():
        print(f"  {name:<28} {value:10.2f} ms")
    cpu_ratio = cpu["healthz GET"] / cpu["resolve HEAD"]
    print(f"  {'CPU ratio healthz/resolve':<28} {cpu_ratio:10.3f}   (steadier on a busy box)")
    token_cpu_ratio = cpu["resolve HEAD"] / cpu["resolve HEAD + token"]
    print(f"  {'CPU ratio anonymous/token':<28} {token_cpu_ratio:10.3f}")
    token_ratio = best["resolve HEAD + token"] / best["resolve HEAD"]
    verdict = "PASS" if token_ratio >= TOKEN_GOAL else "FAIL"
    print("\nWith a token vs anonymous, req/s, best rounds of the same run:")
    print(f"  {'ratio':<28} {token_ratio:10.3f}   (goal >= {TOKEN_GOAL}) {verdict}")
    return int(token_ratio < TOKEN_GOAL) | harness.report(
        f"{args.connections} connections, {args.seconds} s each, best of {args.rounds} rounds",
        list(best.items()),
        "req/s",
        best["resolve HEAD"] / best["healthz GET"],
        GOAL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    load = ab_rps if shutil.which("ab") else python_rps
    if load is python_rps:
        print("ab not found (apt-get install -y --no-install-recommends apache2-utils): using the Python generator")

    workdir = harness.scratch_dir("head")
    try:
        source = harness.make_random_file(workdir / FILENAME, 4 * harness.MiB)
        gatehouse = harness.Gatehouse(workdir)
        info = gatehouse.setup({FILENAME: source})
        healthz = f"{gatehouse.url}/healthz"
        resolve = f"{gatehouse.url}/{info['repo_id']}/resolve/main/{FILENAME}"
        auth = {"Authorization": f"Bearer {info['token']}"}

        def measure(url: str, method: str, headers: dict[str, str] | None = None) -> tuple[float, float]:
            """(requests per second, server CPU milliseconds per request)."""
            cpu = gatehouse.cpu_seconds()
            rps, done = load(url, method, seconds=args.seconds, connections=args.connections, headers=headers or {})
            return rps, (gatehouse.cpu_seconds() - cpu) * 1000 / max(done, 1)

        rows: dict[str, list[tuple[float, float]]] = {"healthz GET": [], "resolve HEAD": [], "resolve HEAD + token": []}
        with harness.running(gatehouse):
            load(resolve, "HEAD", seconds=2, connections=args.connections, headers=auth)  # warm every thread
            for _ in range(args.rounds):
                rows["healthz GET"].append(measure(healthz, "GET"))
                rows["resolve HEAD"].append(measure(resolve, "HEAD"))
                rows["resolve HEAD + token"].append(measure(resolve, "HEAD", auth))
        return summarize(rows, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
