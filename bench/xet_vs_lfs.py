"""Xet against LFS on the same Gatehouse: 1 GiB uploads and downloads, and a 1%-changed re-upload.

One gunicorn Gatehouse (production config). Each round builds fresh random content (so neither
side can deduplicate against an earlier round) and times, with the real huggingface_hub client:

- LFS upload: `upload_file` with Xet disabled (constants.HF_HUB_DISABLE_XET): sha256, preupload,
  batch, one signed PUT, commit.
- Xet upload: `upload_file` with hf_xet and an empty local Xet cache: chunking, xorb POSTs
  (each verified chunk by chunk), the shard (verified, and the file rebuilt once to check the
  sha256 it declares), commit.
- Xet re-upload: the same file with 1% of its bytes changed in the middle, same client cache:
  only the new chunks travel, but the server rebuilds and hashes the new version once.
- Downloads: `hf_hub_download` of the LFS file (sendfile), of the Xet file through hf_xet (signed
  xorb ranges), and of the Xet file without hf_xet (the server rebuilds it while streaming).

Goal printed as the ratio: Xet first upload time / Xet re-upload time, >= 10.

Over loopback, bandwidth is nearly free, so both uploads cost about the same: the client's
chunking and hashing (about 0.7 s per GiB here) and the server's rebuild-and-sha256 check of the
new version (about 0.8 s per GiB) dominate, and the ratio is about 1. What deduplication saves
is bytes on the wire. The bench measures that floor too: the client's own work on the re-upload's
file with no server at all (hashlib sha256, which huggingface_hub computes for every upload, plus
`hf_xet.hash_files`, the chunking and chunk hashes), and prints the highest ratio any server could
reach on this machine. `--link-mbps N` puts a proxy in front of Gatehouse that limits the client's
traffic to N megabits per second in each direction, as an upload over a real network would be
(downloads are then skipped). The bytes the server received for each upload are printed too.

`--s3` runs Gatehouse on the S3 backend (a SeaweedFS store started for the run, as the tests do):
Xet xorbs and shards then go to the store after their checks, LFS uploads go straight to it
through a presigned PUT and are verified by the hub (read back and hashed) before the commit.

Usage: .venv/bin/python bench/xet_vs_lfs.py [--size-mb 1024] [--rounds 2] [--link-mbps 200] [--s3]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR, BENCH_PORTS, SEAWEEDFS_PORTS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import harness  # noqa: E402

GOAL = 10.0


def fresh_xet_client(cache: Path) -> None:
    """An empty local Xet cache and a new hf_xet session that uses it."""
    from huggingface_hub.utils import _xet

    shutil.rmtree(cache, ignore_errors=True)
    os.environ["HF_XET_CACHE"] = str(cache)
    _xet._GLOBAL_XET_HOLDER._session = None


def timed(function, **kwargs) -> float:
    os.sync()
    start = time.perf_counter()
    function(**kwargs)
    return time.perf_counter() - start


def unique_random_file(path: Path, size: int) -> Path:
    """Random bytes with no repeats (harness.make_random_file repeats one 8 MiB block, which Xet
    would deduplicate within the file)."""
    with open(path, "wb") as handle:
        for offset in range(0, size, 8 * harness.MiB):
            handle.write(os.urandom(min(8 * harness.MiB, size - offset)))
    return path


def change_one_percent(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(size // 100))


def client_floor(path: Path) -> float:
    """Seconds the client spends on `path` before and besides any request: huggingface_hub's
    sha256 of the file and hf_xet's chunking and chunk hashing (no network, no server)."""
    import hashlib

    import hf_xet

    os.sync()
    start = time.perf_counter()
    with open(path, "rb") as handle:
        hashlib.file_digest(handle, "sha256")
    hf_xet.hash_files([str(path)])
    return time.perf_counter() - start


def run_rounds(args, gatehouse: harness.Gatehouse, link, workdir: Path, size: int) -> dict[str, list[float]]:
    from huggingface_hub import HfApi, constants, hf_hub_download

    endpoint = link.url if link else gatehouse.url
    api = HfApi(endpoint=endpoint, token=gatehouse.info["token"])
    repo_id = gatehouse.info["repo_id"]
    times: dict[str, list[float]] = {
        name: [] for name in ("lfs_up", "xet_up", "xet_reup", "client_floor", "lfs_down", "xet_down", "plain_down")
    }
    for round_no in range(args.rounds):
        lfs_file = unique_random_file(workdir / "lfs.bin", size)
        xet_file = unique_random_file(workdir / "xet.bin", size)
        sent = []
        for name, source, path, xet in (
            ("lfs_up", lfs_file, "lfs.bin", False),
            ("xet_up", xet_file, "xet.bin", True),
            ("xet_reup", xet_file, "xet.bin", True),
        ):
            constants.HF_HUB_DISABLE_XET = not xet
            if name == "xet_up":
                fresh_xet_client(workdir / "xet-cache")
            if name == "xet_reup":
                change_one_percent(xet_file)
            before = link.sent["up"] if link else 0
            times[name].append(timed(api.upload_file, path_or_fileobj=str(source), path_in_repo=path, repo_id=repo_id))
            if link:
                sent.append(f"{name} {(link.sent['up'] - before) / 1e6:.1f} MB")
        times["client_floor"].append(client_floor(xet_file))
        if sent:
            print("  bytes sent: " + ", ".join(sent))
        downloads = (
            ()
            if args.link_mbps
            else (
                ("lfs_down", "lfs.bin", True),
                ("xet_down", "xet.bin", False),
                ("plain_down", "xet.bin", True),
            )
        )
        for name, filename, disable_xet in downloads:
            cache = workdir / f"hf-cache-{name}"
            constants.HF_HUB_DISABLE_XET = disable_xet
            fresh_xet_client(workdir / "xet-download-cache")
            times[name].append(
                timed(hf_hub_download, repo_id=repo_id, filename=filename, cache_dir=cache, endpoint=endpoint)
            )
            shutil.rmtree(cache)
        constants.HF_HUB_DISABLE_XET = False
        print(f"  round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items() if v), flush=True)
    return times


def summarize(times: dict[str, list[float]], size: int, args) -> int:
    best = {name: min(values) for name, values in times.items() if values}
    rate = {name: size / 1e6 / seconds for name, seconds in best.items()}
    print(f"\n  Xet upload / LFS upload speed: {rate['xet_up'] / rate['lfs_up']:.2f}")
    print(
        f"  client's own work on the re-upload (sha256 + Xet chunking, no server): {best['client_floor']:.2f} s;"
        f" no server can do better than first upload / that = {best['xet_up'] / best['client_floor']:.1f}"
    )
    if "lfs_down" in rate:
        print(f"  Xet download (hf_xet) / LFS download speed: {rate['xet_down'] / rate['lfs_down']:.2f}")
        print(f"  Xet download without hf_xet (server rebuild) / LFS: {rate['plain_down'] / rate['lfs_down']:.2f}")
    labels = {
        "lfs_up": "LFS upload_file",
        "xet_up": "Xet upload_file",
        "xet_reup": "Xet re-upload, 1% changed",
        "client_floor": "client alone (sha256 + chunking)",
        "lfs_down": "LFS hf_hub_download",
        "xet_down": "Xet hf_hub_download",
        "plain_down": "Xet file, plain download",
    }
    link = f", over a {args.link_mbps} Mbit/s link" if args.link_mbps else ", loopback"
    return harness.report(
        f"{args.size_mb} MiB file, best of {args.rounds} rounds{link} (MB/s = 10^6 bytes/s of the file)",
        [(label, rate[name]) for name, label in labels.items() if name in rate],
        "MB/s",
        best["xet_up"] / best["xet_reup"],
        GOAL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--link-mbps", type=float, default=0, help="limit the client's link (0: loopback)")
    parser.add_argument("--s3", action="store_true", help="the S3 backend (SeaweedFS) instead of the local disk")
    args = parser.parse_args()
    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("xet")
    try:
        with ExitStack() as stack:
            extra_env = {}
            if args.s3:
                sys.path.insert(0, str(harness.ROOT))
                from tests.support.seaweedfs import BUCKET, seaweedfs

                (workdir / "seaweedfs").mkdir()
                store = stack.enter_context(seaweedfs(workdir / "seaweedfs", bucket=BUCKET))
                extra_env = {**store.environ(), "GATEHOUSE_STORAGE_URL": f"s3://{BUCKET}/bench"}
            gatehouse = harness.Gatehouse(workdir, extra_env=extra_env)
            gatehouse.setup()
            link = harness.ThrottledLink(gatehouse.port, args.link_mbps) if args.link_mbps else None
            with harness.running(*([gatehouse, link] if link else [gatehouse])):
                times = run_rounds(args, gatehouse, link, workdir, size)
        return summarize(times, size, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
