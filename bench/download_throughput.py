"""Download throughput of a 1 GiB file: Gatehouse (as README.md deploys it) vs nginx. Goal >= 0.8.

Gatehouse side: `huggingface_hub.hf_hub_download` against gunicorn started with
config/gunicorn.conf.py (gthread workers, sendfile on), into a fresh cache dir each round. That
is the whole client path: the metadata HEAD, the GET of /resolve, writing to the cache, the
rename into blobs/ and the snapshot symlink. The Xet path is disabled (HF_HUB_DISABLE_XET): the
goal is about how /resolve serves bytes.

nginx side: the *same stored blob file* (nginx's root is Gatehouse's objects dir, so both read
the same inode from the same page cache) served by nginx with sendfile, downloaded with
`huggingface_hub.file_download.http_get`, the very function hf_hub_download streams with (same
httpx client, same 10 MiB chunk size, same write-to-disk loop) into a file on the same disk.
So the two sides differ only by what Gatehouse adds: the HEAD, auth + policy + revision lookup
on both requests, the cache bookkeeping, and gunicorn instead of nginx for the bytes. Both are
warmed once before timing; rounds alternate between the two so drift hits both equally, and
the best round of each side is compared (as timeit does: on a shared machine the slower rounds
measure the neighbours, not the server). Removing the downloaded file is not timed. An extra
row (not in the ratio) times http_get against /resolve directly, to separate server cost from
hf_hub_download's own bookkeeping.

Usage: .venv/bin/python bench/download_throughput.py [--size-mb 1024] [--rounds 5]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR (where the temp dir goes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["HF_HUB_DISABLE_XET"] = "1"

import harness  # noqa: E402

FILENAME = "model.safetensors"
GOAL = 0.8


def timed(fn) -> float:
    """Seconds `fn` took; it returns the file it wrote, which is removed outside the timing."""
    start = time.perf_counter()
    written = fn()
    elapsed = time.perf_counter() - start
    shutil.rmtree(written) if written.is_dir() else written.unlink()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    harness.nginx_binary()  # fail early with the install hint
    from huggingface_hub import hf_hub_download
    from huggingface_hub.file_download import http_get

    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("download")
    try:
        source = harness.make_random_file(workdir / FILENAME, size)
        gatehouse = harness.Gatehouse(workdir)
        info = gatehouse.setup({FILENAME: source})
        source.unlink()  # the blob store holds its own copy now
        sha = info["sha256"][FILENAME]
        objects = Path(info["storage_root"]) / "objects"
        nginx = harness.Nginx(workdir, root=objects)
        out_dir = workdir / "out"

        def gatehouse_round() -> Path:
            cache = out_dir / "hf-cache"
            path = hf_hub_download(
                info["repo_id"], FILENAME, cache_dir=cache, endpoint=gatehouse.url, token=info["token"]
            )
            assert os.path.getsize(path) == size
            return cache

        def nginx_round() -> Path:
            target = out_dir / "nginx.bin"
            with open(target, "wb") as handle:
                http_get(f"{nginx.url}/{sha[:2]}/{sha[2:4]}/{sha}", handle, expected_size=size)
            assert target.stat().st_size == size
            return target

        def resolve_round() -> Path:
            target = out_dir / "resolve.bin"
            url = f"{gatehouse.url}/{info['repo_id']}/resolve/main/{FILENAME}"
            with open(target, "wb") as handle:
                http_get(url, handle, headers={"Authorization": f"Bearer {info['token']}"}, expected_size=size)
            assert target.stat().st_size == size
            return target

        with harness.running(gatehouse, nginx):
            out_dir.mkdir()
            timed(nginx_round), timed(gatehouse_round)  # warm page cache, connections, imports
            times: dict[str, list[float]] = {"gatehouse": [], "nginx": [], "resolve": []}
            for _ in range(args.rounds):
                times["nginx"].append(timed(nginx_round))
                times["gatehouse"].append(timed(gatehouse_round))
                times["resolve"].append(timed(resolve_round))
        harness.print_rounds(times, size)
        mbps = {name: size / 1e6 / min(values) for name, values in times.items()}
        return harness.report(
            f"Download of {args.size_mb} MiB, best of {args.rounds} rounds (MB/s = 10^6 bytes/s)",
            [
                ("nginx + http_get", mbps["nginx"]),
                ("gatehouse hf_hub_download", mbps["gatehouse"]),
                ("gatehouse /resolve http_get", mbps["resolve"]),
            ],
            "MB/s",
            mbps["gatehouse"] / mbps["nginx"],
            GOAL,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
