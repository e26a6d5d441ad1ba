"""LFS upload of a 1 GiB file into Gatehouse vs a plain HTTP PUT of it to nginx. Goal >= 0.7.

Gatehouse side: the huggingface_hub LFS path with Xet disabled (constants.HF_HUB_DISABLE_XET):
`HfApi.create_commit` with one `CommitOperationAdd`, which is what `upload_file` runs: preupload,
LFS batch, one signed PUT (1 GiB is below the multipart threshold), commit. The server hashes
the bytes as they arrive, fsyncs them, checks sha256 and size, and renames the object into place.
The client computes the file's sha256 before any request (the LFS protocol names objects by
it); the bench forces that right after building the `CommitOperationAdd` and times it apart: the ratio is about
the transfer ("uploading"), and a second row shows the end-to-end `upload_file` figure.

nginx side: `PUT` with `dav_methods PUT`, the request body buffered in client_body_temp_path on
the same disk and renamed into place, no size limit. The client is
`huggingface_hub.utils.http_backoff("PUT", url, data=file)`, the very call huggingface_hub uses
for the signed PUT above (same httpx client, same streaming of the file). nginx never fsyncs;
an informational row adds an fsync of the stored file after the PUT (what Gatehouse's durability
costs on this disk). Each round uses fresh content (8 bytes changed) so nothing is deduplicated,
`sync` runs between rounds so one round's writeback does not land in the next, rounds alternate,
and the best round of each side is compared.

Usage: .venv/bin/python bench/lfs_upload_throughput.py [--size-mb 1024] [--rounds 3]
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
os.environ["HF_HUB_DISABLE_XET"] = "1"

import harness  # noqa: E402

GOAL = 0.7


def stamp(path: Path, round_no: int) -> None:
    """Make this round's content unique, so the server cannot skip the upload as a duplicate."""
    with open(path, "r+b") as handle:
        handle.write(round_no.to_bytes(8, "big") + os.urandom(8))


def upload_rounds(args, gatehouse: harness.Gatehouse, nginx: harness.Nginx, source: Path) -> dict[str, list[float]]:
    from huggingface_hub import CommitOperationAdd, HfApi, constants
    from huggingface_hub.utils import hf_raise_for_status, http_backoff

    assert constants.HF_HUB_DISABLE_XET
    api = HfApi(endpoint=gatehouse.url, token=gatehouse.info["token"])
    repo_id = gatehouse.info["repo_id"]
    storage = Path(gatehouse.info["storage_root"]) / "objects"
    times: dict[str, list[float]] = {"hash": [], "gatehouse": [], "nginx": [], "nginx_fsync": []}
    for round_no in range(args.rounds + 1):  # round 0 warms both sides up and is not counted
        stamp(source, round_no)
        os.sync()
        start = time.perf_counter()
        operation = CommitOperationAdd(path_in_repo=f"weights-{round_no}.safetensors", path_or_fileobj=str(source))
        assert operation.upload_info.sha256  # computed lazily; force it here, outside the upload timing
        hashed = time.perf_counter()
        api.create_commit(repo_id=repo_id, operations=[operation], commit_message=f"round {round_no}")
        done = time.perf_counter()
        sha = operation.upload_info.sha256.hex()
        assert (storage / sha[:2] / sha[2:4] / sha).stat().st_size == source.stat().st_size
        (storage / sha[:2] / sha[2:4] / sha).unlink()  # free the disk; the commit is never read back
        os.sync()
        target = nginx.root / f"upload-{round_no}.bin"
        put_start = time.perf_counter()
        with open(source, "rb") as handle:
            hf_raise_for_status(http_backoff("PUT", f"{nginx.url}/{target.name}", data=handle))
        put_done = time.perf_counter()
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
        synced = time.perf_counter()
        assert target.stat().st_size == source.stat().st_size
        target.unlink()
        if round_no:
            times["hash"].append(hashed - start)
            times["gatehouse"].append(done - hashed)
            times["nginx"].append(put_done - put_start)
            times["nginx_fsync"].append(synced - put_start)
    return times


def summarize(times: dict[str, list[float]], size: int, args) -> int:
    harness.print_rounds(times, size)
    best = {name: size / 1e6 / min(values) for name, values in times.items()}
    end_to_end = size / 1e6 / min(h + g for h, g in zip(times["hash"], times["gatehouse"], strict=True))
    durable = best["gatehouse"] / best["nginx_fsync"]
    print(f"\n  upload_file end to end (client sha256 included): {end_to_end:.0f} MB/s")
    print(f"  ratio against nginx PUT + fsync (both durable): {durable:.3f} (goal >= {GOAL}: {durable >= GOAL})")
    return harness.report(
        f"LFS upload of {args.size_mb} MiB, best of {args.rounds} rounds (MB/s = 10^6 bytes/s)",
        [
            ("nginx PUT", best["nginx"]),
            ("nginx PUT + fsync", best["nginx_fsync"]),
            ("client sha256 (not timed)", best["hash"]),
            ("gatehouse LFS upload", best["gatehouse"]),
        ],
        "MB/s",
        best["gatehouse"] / best["nginx"],
        GOAL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    harness.nginx_binary()
    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("upload")
    try:
        source = harness.make_random_file(workdir / "weights.safetensors", size)
        gatehouse = harness.Gatehouse(workdir)
        gatehouse.setup()
        root = workdir / "nginx-root"
        root.mkdir()
        nginx = harness.Nginx(workdir, root=root, dav_put=True)
        with harness.running(gatehouse, nginx):
            times = upload_rounds(args, gatehouse, nginx, source)
        return summarize(times, size, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
