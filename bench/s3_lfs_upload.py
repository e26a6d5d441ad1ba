"""LFS uploads on the S3 backend: a multipart upload through Gatehouse (the batch call, presigned
part PUTs straight to the store, then the completion route, where the hub reads back and hashes
the completed object while the store copies it to the content address, published only if the
hash matches) vs the same client code doing plain presigned part PUTs of the same part size, one
after another, to the same store (a multipart upload the benchmark creates and completes itself,
no verification). Goal >= 0.8; the completion (the verification) is timed and printed on its
own, with the server's CPU, and its steps are timed once more on the plain upload's object with
the same store client.

Both sides PUT each part with `huggingface_hub.utils.http_backoff("PUT", url, data=slice)` over
a `SliceFileObj` of the file, as `huggingface_hub.lfs` uploads multipart parts. Every round
uploads new random content (an object the hub holds already is not asked for again).

Usage: .venv/bin/python bench/s3_lfs_upload.py [--size-mb 1024] [--part-mb 64] [--rounds 2]
Environment: BENCH_PORTS, SEAWEEDFS_PORTS (port ranges on a shared machine).
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import harness  # noqa: E402

from tests.support.seaweedfs import BUCKET, seaweedfs  # noqa: E402

GOAL = 0.8


def put_parts(path: Path, urls: list[str], part: int) -> list[str]:
    """huggingface_hub.lfs._upload_parts_iteratively, minus its progress bar: the ETags."""
    from huggingface_hub.lfs import SliceFileObj
    from huggingface_hub.utils import hf_raise_for_status, http_backoff

    etags = []
    with open(path, "rb") as handle:
        for index, url in enumerate(urls):
            with SliceFileObj(handle, seek_from=part * index, read_limit=part) as piece:
                answer = http_backoff("PUT", url, data=piece)
                hf_raise_for_status(answer)
                etags.append(answer.headers["ETag"])
    return etags


def direct_upload(store, path: Path, part: int, key: str, *, keep: bool = False) -> float:
    client = store.client()
    size = path.stat().st_size
    start = time.perf_counter()
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    urls = []
    for number in range(1, -(-size // part) + 1):
        params = {
            "Bucket": BUCKET,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": min(part, size - (number - 1) * part),
        }
        urls.append(client.generate_presigned_url("upload_part", Params=params, ExpiresIn=3600))
    etags = put_parts(path, urls, part)
    parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]
    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    elapsed = time.perf_counter() - start
    if not keep:
        client.delete_object(Bucket=BUCKET, Key=key)
    return elapsed


def verification_steps(store, key: str) -> dict[str, float]:
    """What the completion does to the bytes, step by step with the same store client (see
    registry.storage.s3uploads._publish_frozen): a GET hashed with sha256, the UploadPartCopy of
    the object into an uncompleted multipart upload (the content address's), then both at once
    as the completion runs them; for reference the server-side copy the hub no longer makes."""
    from concurrent.futures import ThreadPoolExecutor

    client = store.client()
    size = client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    part = 64 * harness.MiB

    def read_and_hash() -> None:
        digest = hashlib.sha256()
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        while piece := body.read(8 * harness.MiB):
            digest.update(piece)

    def copy_parts() -> None:
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=f"{key}.final")["UploadId"]
        for number, first in enumerate(range(0, size, part), 1):
            client.upload_part_copy(
                Bucket=BUCKET,
                Key=f"{key}.final",
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": BUCKET, "Key": key},
                CopySourceRange=f"bytes={first}-{min(first + part, size) - 1}",
            )
        client.abort_multipart_upload(Bucket=BUCKET, Key=f"{key}.final", UploadId=upload_id)

    def both() -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            copying = pool.submit(copy_parts)
            read_and_hash()
            copying.result()

    def snapshot() -> None:
        client.copy_object(Bucket=BUCKET, Key=f"{key}.snapshot", CopySource={"Bucket": BUCKET, "Key": key})
        client.delete_object(Bucket=BUCKET, Key=f"{key}.snapshot")

    steps = {}
    for name, step in [
        ("read back + sha256", read_and_hash),
        ("UploadPartCopy to the content address", copy_parts),
        ("both at once", both),
        ("(a snapshot copy, no longer made)", snapshot),
    ]:
        start = time.perf_counter()
        step()
        steps[name] = time.perf_counter() - start
    return steps


def gatehouse_upload(gatehouse: harness.Gatehouse, path: Path) -> tuple[float, float]:
    """(seconds for the whole upload, seconds of them in the completion, i.e. the verification)."""
    import httpx2 as httpx

    info = gatehouse.info
    with open(path, "rb") as handle:  # the client hashes before it asks: not timed
        oid = hashlib.file_digest(handle, "sha256").hexdigest()
    size = path.stat().st_size
    auth = {"Authorization": f"Bearer {info['token']}"}
    start = time.perf_counter()
    batch = httpx.post(
        f"{gatehouse.url}/{info['repo_id']}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic", "multipart"], "objects": [{"oid": oid, "size": size}]},
        headers={**auth, "Accept": "application/vnd.git-lfs+json"},
    )
    batch.raise_for_status()
    action = batch.json()["objects"][0]["actions"]["upload"]
    part = int(action["header"]["chunk_size"])
    urls = [action["header"][str(n)] for n in range(1, len(action["header"]))]
    etags = put_parts(path, urls, part)
    verifying = time.perf_counter()
    parts = [{"partNumber": n, "etag": etag} for n, etag in enumerate(etags, 1)]
    done = httpx.post(action["href"], json={"oid": oid, "parts": parts}, timeout=600)
    done.raise_for_status()
    end = time.perf_counter()
    return end - start, end - verifying


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--part-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size, part = args.size_mb * harness.MiB, args.part_mb * harness.MiB
    workdir = harness.scratch_dir("s3-lfs-upload")
    atexit.register(shutil.rmtree, workdir, True)  # the 1 GiB files and the store's data
    with seaweedfs(workdir, bucket=BUCKET) as store:
        settings = {
            "GATEHOUSE_STORAGE_URL": f"s3://{BUCKET}/bench",
            "GATEHOUSE_LFS_MULTIPART_THRESHOLD": str(part),
            "GATEHOUSE_LFS_CHUNK_SIZE": str(part),
        }
        gatehouse = harness.Gatehouse(workdir, extra_env={**store.environ(), **settings})
        gatehouse.setup()
        times: dict[str, list[float]] = {"gatehouse": [], "direct": [], "verification": []}
        cpu = 0.0
        steps: dict[str, list[float]] = {}
        with harness.running(gatehouse):
            for round_no in range(args.rounds):
                source = harness.make_random_file(workdir / f"upload-{round_no}.bin", size)
                os.sync()
                times["direct"].append(direct_upload(store, source, part, f"direct/{round_no}", keep=True))
                for step, seconds in verification_steps(store, f"direct/{round_no}").items():
                    steps.setdefault(step, []).append(seconds)
                store.client().delete_object(Bucket=BUCKET, Key=f"direct/{round_no}")
                cpu_before = gatehouse.cpu_seconds()
                total, verification = gatehouse_upload(gatehouse, source)
                cpu += gatehouse.cpu_seconds() - cpu_before
                times["gatehouse"].append(total)
                times["verification"].append(verification)
                source.unlink()
                print(f"  round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
    best = {name: min(values) for name, values in times.items()}
    mbps = {name: size / 1e6 / seconds for name, seconds in best.items()}
    print(f"  verification (completion: read back + sha256 while copying): best {best['verification']:.2f} s")
    print("  its steps, done with the same store client: " + ", ".join(f"{k} {min(v):.2f} s" for k, v in steps.items()))
    print(f"  server CPU: {cpu * 1000 / args.rounds / (size / (1024 * harness.MiB)):.0f} ms per GiB uploaded")
    return harness.report(
        f"S3 LFS upload of {args.size_mb} MiB in {args.part_mb} MiB parts, best of {args.rounds} rounds (MB/s)",
        [("plain presigned part PUTs", mbps["direct"]), ("gatehouse multipart + verification", mbps["gatehouse"])],
        "MB/s",
        mbps["gatehouse"] / mbps["direct"],
        GOAL,
    )


if __name__ == "__main__":
    sys.exit(main())
