"""`/healthz` latency while slow clients hold connections open vs with no such load. Goal <= 2.

Gatehouse runs as deployed (gunicorn -c config/gunicorn.conf.py). The load is the attack of
issue 14: a third of the connections send a request head one header line at a time, a third a
whole head then a small body (1 kB) one byte at a time, a third the same with a large body (1 MB,
which a thread reads), each every --interval seconds (cut connections are opened
again, as an attacker would). Meanwhile `/healthz` is asked --requests times, each on a new
connection; a request that gets no answer within --deadline seconds counts as that long. The
ratio is the median latency under load over the median without, in the same run (both medians
and p99s are printed).

`--worker-class gthread` runs gunicorn's stock worker instead (GUNICORN_CMD_ARGS), to show what
the load did before core/gunicorn_worker.py: there the threads are all held and /healthz times out.

Usage: .venv/bin/python bench/slow_clients.py [--connections 200] [--requests 100] [--interval 5]
       [--worker-class gthread]
Environment: BENCH_TMPDIR.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

GOAL = 2.0
POST_JSON = (
    b"POST /api/validate-yaml HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)


class SlowClients:
    """`count` connections that each send a little every `interval` seconds, from one thread."""

    def __init__(self, port: int, count: int, interval: float):
        self.port, self.count, self.interval = port, count, interval
        self.sockets: list[socket.socket | None] = [None] * count
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, index: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if index % 3 == 0:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        else:  # a small body (read by the worker's loop) or a large one (by a thread)
            length = 1000 if index % 3 == 1 else 1_000_000
            sock.sendall(POST_JSON % length)
        return sock

    def _tick(self, index: int) -> None:
        sock = self.sockets[index]
        try:
            if sock is None:
                raise OSError
            sock.sendall(b"X-Slow: 1\r\n" if index % 3 == 0 else b" ")
        except OSError:
            if sock is not None:
                sock.close()
                self.reopened += 1
            try:
                self.sockets[index] = self._open(index)
            except OSError:
                self.sockets[index] = None

    def _run(self) -> None:
        while not self._stop.is_set():
            for index in range(self.count):
                self._tick(index)
            self._stop.wait(self.interval)

    def start(self) -> None:
        for index in range(self.count):
            self.sockets[index] = self._open(index)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def healthz_latencies(port: int, requests: int, deadline: float) -> tuple[list[float], int]:
    """Seconds per GET /healthz on a fresh connection; failures count as `deadline`."""
    times, failed = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=deadline)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status != 200:
                raise OSError(response.status)
            times.append(time.perf_counter() - started)
        except OSError:
            failed += 1
            times.append(deadline)
    return times, failed


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--worker-class", default="")
    args = parser.parse_args()

    workdir = harness.scratch_dir("slow")
    extra = {"GUNICORN_CMD_ARGS": f"--worker-class {args.worker_class}"} if args.worker_class else {}
    server = harness.Gatehouse(workdir, extra_env=extra)
    slow = SlowClients(server.port, args.connections, args.interval)
    try:
        server.start()
        base, base_failed = healthz_latencies(server.port, args.requests, args.deadline)
        slow.start()
        time.sleep(1.0)  # every slow client has sent its first bytes
        loaded, loaded_failed = healthz_latencies(server.port, args.requests, args.deadline)
    finally:
        slow.stop()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    (base_median, base_p99), (loaded_median, loaded_p99) = summary(base), summary(loaded)
    print(f"worker: {args.worker_class or 'config/gunicorn.conf.py'}; {args.connections} slow connections")
    print(f"  /healthz without load: median {base_median * 1000:.1f} ms, p99 {base_p99 * 1000:.1f} ms, ", end="")
    print(f"failed {base_failed}")
    print(
        f"  /healthz under load:   median {loaded_median * 1000:.1f} ms, p99 {loaded_p99 * 1000:.1f} ms, "
        f"failed {loaded_failed} (slow connections cut and reopened: {slow.reopened})"
    )
    ratio = loaded_median / base_median
    print(f"ratio (median under load / without): {ratio:.2f}  goal <= {GOAL}  {'PASS' if ratio <= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
