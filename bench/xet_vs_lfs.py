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
Usage: .venv/bin/python bench/xet_vs_lfs.py [--size-mb 1024] [--rounds 2]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR.
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


def change_one_percent(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(size // 100))


def run_rounds(args, gatehouse: harness.Gatehouse, workdir: Path, size: int) -> dict[str, list[float]]:
    from huggingface_hub import HfApi, constants, hf_hub_download

    api = HfApi(endpoint=gatehouse.url, token=gatehouse.info["token"])
    repo_id = gatehouse.info["repo_id"]
    times: dict[str, list[float]] = {
        name: [] for name in ("lfs_up", "xet_up", "xet_reup", "lfs_down", "xet_down", "plain_down")
    }
    for round_no in range(args.rounds):
        lfs_file = harness.make_random_file(workdir / "lfs.bin", size)
        xet_file = harness.make_random_file(workdir / "xet.bin", size)
        constants.HF_HUB_DISABLE_XET = True
        times["lfs_up"].append(
            timed(api.upload_file, path_or_fileobj=str(lfs_file), path_in_repo="lfs.bin", repo_id=repo_id)
        )
        constants.HF_HUB_DISABLE_XET = False
        fresh_xet_client(workdir / "xet-cache")
        times["xet_up"].append(
            timed(api.upload_file, path_or_fileobj=str(xet_file), path_in_repo="xet.bin", repo_id=repo_id)
        )
        change_one_percent(xet_file)
        times["xet_reup"].append(
            timed(api.upload_file, path_or_fileobj=str(xet_file), path_in_repo="xet.bin", repo_id=repo_id)
        )
        for name, filename, disable_xet in (
            ("lfs_down", "lfs.bin", True),
            ("xet_down", "xet.bin", False),
            ("plain_down", "xet.bin", True),
        ):
            cache = workdir / f"hf-cache-{name}"
            constants.HF_HUB_DISABLE_XET = disable_xet
            fresh_xet_client(workdir / "xet-download-cache")
            times[name].append(
                timed(hf_hub_download, repo_id=repo_id, filename=filename, cache_dir=cache, endpoint=gatehouse.url)
            )
            shutil.rmtree(cache)
        constants.HF_HUB_DISABLE_XET = False
        print(f"  round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    return times


def summarize(times: dict[str, list[float]], size: int, args) -> int:
    best = {name: min(values) for name, values in times.items()}
    rate = {name: size / 1e6 / seconds for name, seconds in best.items()}
    print(f"\n  Xet upload / LFS upload speed: {rate['xet_up'] / rate['lfs_up']:.2f}")
    print(f"  Xet download (hf_xet) / LFS download speed: {rate['xet_down'] / rate['lfs_down']:.2f}")
    print(f"  Xet download without hf_xet (server rebuild) / LFS download: {rate['plain_down'] / rate['lfs_down']:.2f}")
    return harness.report(
        f"{args.size_mb} MiB file, best of {args.rounds} rounds (MB/s = 10^6 bytes/s of the file)",
        [
            ("LFS upload_file", rate["lfs_up"]),
            ("Xet upload_file", rate["xet_up"]),
            ("Xet re-upload, 1% changed", rate["xet_reup"]),
            ("LFS hf_hub_download", rate["lfs_down"]),
            ("Xet hf_hub_download", rate["xet_down"]),
            ("Xet file, plain download", rate["plain_down"]),
        ],
        "MB/s",
        best["xet_up"] / best["xet_reup"],
        GOAL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("xet")
    try:
        gatehouse = harness.Gatehouse(workdir)
        gatehouse.setup()
        with harness.running(gatehouse):
            times = run_rounds(args, gatehouse, workdir, size)
        return summarize(times, size, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
