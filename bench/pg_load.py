"""PostgreSQL under an open-loop load at half its measured capacity (issue 17; `make bench-pg-load`).

Gatehouse as deployed (bench/harness.py: gunicorn, production config) on a fresh database created
for the run on the PostgreSQL server of DATABASE_URL (dropped at the end), with its own blob
store in a temp folder. It seeds --repos repos (every other one private) and sends soak's mix
(bench/soak.py: 60% HEAD and GET /resolve with and without tokens, 20% API reads, 15% small
commits, 5% 1.5 MiB commits, to three branches of every repo) from --connections clients:
first in a closed loop for --capacity-seconds to measure capacity, then in an open loop at half
of it for --minutes (GATEHOUSE_PG_LOAD_MINUTES, default 5), never more than --connections in
flight (a request due while all are busy is dropped and counted).

Goals: zero errors (5xx, 429 or a failed connection; a dropped request counts as one too), p99 of
`HEAD /resolve` under 50 ms and of a small commit under 500 ms. The load generator runs on the
same 2 cores as the server and PostgreSQL, so it reports its own share of the CPU used in the
window (its CPU seconds against the machine's busy CPU seconds from /proc/stat) and the load
average before and after. Exit status 1 when a goal is missed.

Usage: DATABASE_URL=postgres://... .venv/bin/python bench/pg_load.py [--minutes 5] [--repos 64]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import soak  # noqa: E402

HEAD_P99_MS = 50.0
SMALL_COMMIT_P99_MS = 500.0


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat's first line)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("GATEHOUSE_PG_LOAD_MINUTES", 5)))
    parser.add_argument("--repos", type=int, default=64)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--capacity-seconds", type=float, default=30.0)
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith("postgres"):
        print("Set DATABASE_URL to a PostgreSQL server (a database is created on it for the run).")
        return 2

    name = f"gatehouse_pg_load_{os.getpid()}"
    admin(server_url, f'CREATE DATABASE "{name}"')
    work = harness.scratch_dir("pg-load")
    gatehouse = harness.Gatehouse(work, extra_env={"DATABASE_URL": with_database(server_url, name)})
    try:
        info = gatehouse.setup()
        gatehouse.start()
        namespace = harness.USERNAME
        private = soak.seed_repos(gatehouse.url, info["token"], namespace=namespace, count=args.repos)

        def load() -> soak.Load:
            return soak.Load(gatehouse.url, info["token"], private, namespace=namespace, repos=args.repos)

        rng = random.Random(17)
        capacity = soak.measure_capacity(load(), seconds=args.capacity_seconds, clients=args.connections, rng=rng)
        rate = capacity / 2
        before = os.getloadavg()
        print(
            f"capacity {capacity:.1f} req/s (closed loop, {args.connections} clients); "
            f"open loop at {rate:.1f} req/s for {args.minutes:g} min; load average before {before[0]:.2f}",
            flush=True,
        )
        measured = load()
        busy, own = machine_busy_seconds(), own_cpu_seconds()
        started = time.monotonic()
        dropped = soak.open_loop(
            measured, rate=rate, seconds=args.minutes * 60, max_in_flight=args.connections, rng=rng
        )
        wall = time.monotonic() - started
        busy, own = machine_busy_seconds() - busy, own_cpu_seconds() - own
    finally:
        gatehouse.stop()
        admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    errors = soak.print_table(measured)
    limited = sum(codes.get(429, 0) for codes in measured.statuses.values())
    head = soak.percentile(measured.latencies["download HEAD"], 0.99) * 1000
    small = soak.percentile(measured.latencies["commit small"], 0.99) * 1000
    cores = os.cpu_count() or 1
    print(f"dropped by the in-flight bound: {dropped}; load average after {os.getloadavg()[0]:.2f}")
    print(
        f"CPU: the machine was busy {busy / (wall * cores):.0%} of {cores} cores; the load generator used "
        f"{own:.0f} CPU s of {busy:.0f} ({own / busy:.0%} of the busy CPU, {own / wall:.2f} cores)"
    )
    goals = [
        (f"errors {errors + limited + dropped} (5xx, failed, 429, dropped)", errors + limited + dropped == 0),
        (f"p99 HEAD /resolve {head:.1f} ms < {HEAD_P99_MS:g}", head < HEAD_P99_MS),
        (f"p99 small commit {small:.1f} ms < {SMALL_COMMIT_P99_MS:g}", small < SMALL_COMMIT_P99_MS),
    ]
    for label, met in goals:
        print(f"  {label}: {'PASS' if met else 'FAIL'}")
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
