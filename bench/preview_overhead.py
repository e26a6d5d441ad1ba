"""Preview service overhead on the CPU with the tiny pipeline (goal: median under 100 ms).

Overhead = time from sending the API request to having the image bytes, minus the pipeline's own
compute (model load, denoising and VAE decode, safety checker) as the worker measured it. What is
left is Gatehouse: HTTP handling, validation, screening, the job row, publishing to Redis, the
worker's claim and lease, PNG encoding, the crash-safe image write, the result row, and serving
the image after a policy check. A real `celery worker` process does the work.

Runs in a throw-away folder with its own SQLite database (shared with the worker through WAL);
needs a Redis broker:

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/preview_overhead.py --requests 30

Exit status 1 when the median overhead is 100 ms or more. Importable: tests call `measure`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THRESHOLD_MS = 100.0


def measure(client, token: str, repo_id: str, *, count: int, first_seed: int = 0, steps: int = 4) -> list[dict]:
    """Sequential requests with distinct seeds; one dict of timings (ms) per request."""
    from workers.models import PreviewJob

    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    results = []
    for seed in range(first_seed, first_seed + count):
        body = {"prompt": "a photo of a cat", "seed": seed, "num_inference_steps": steps, "width": 64, "height": 64}
        started = time.time()
        response = client.post(f"/api/models/{repo_id}/previews", body, "application/json", **headers)
        assert response.status_code == 202, response.content
        data = response.json()
        job = PreviewJob.objects.filter(requests__pk=data["id"])
        # The result exists from the moment the worker commits it (finished_at, same clock): how
        # often a client polls is its own choice, and busy polling would steal the worker's CPU.
        while job.values_list("status", flat=True)[0] in ("queued", "running"):
            time.sleep(0.02)
        ready = job.values_list("finished_at", flat=True)[0].timestamp()
        fetching = time.perf_counter()
        status = client.get(data["apiUrl"], **headers).json()
        assert status["status"] == "succeeded", status
        image = b"".join(client.get(status["imageUrl"], **headers).streaming_content)
        assert image.startswith(b"\x89PNG")
        total = (ready - started) * 1000 + (time.perf_counter() - fetching) * 1000
        timings = status["timings"]
        compute = timings["load_ms"] + timings["denoise_ms"] + timings["check_ms"]
        results.append({"total_ms": total, "compute_ms": compute, "overhead_ms": total - compute})
    return results


def summary(results: list[dict]) -> dict:
    overheads = sorted(result["overhead_ms"] for result in results)
    return {
        "requests": len(results),
        "median_overhead_ms": round(statistics.median(overheads), 1),
        "p90_overhead_ms": round(overheads[int(0.9 * (len(overheads) - 1))], 1),
        "median_total_ms": round(statistics.median(result["total_ms"] for result in results), 1),
        "median_compute_ms": round(statistics.median(result["compute_ms"] for result in results), 1),
    }


def _environment(folder: Path, redis_url: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "GATEHOUSE_VAR_DIR": str(folder / "var"),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "GATEHOUSE_STORAGE_ROOT": str(folder / "storage"),
        "GATEHOUSE_PREVIEW_MEDIA_ROOT": str(folder / "media"),
        "GATEHOUSE_PREVIEW_MODEL_CACHE": str(folder / "models"),
        "GATEHOUSE_SAFETY_CHECKER_PATH": str(folder / "checker"),
        "GATEHOUSE_PREVIEW_SLD_MINIMUM": "off",
        "GATEHOUSE_PREVIEW_USER_RATE": "1000000",
        "GATEHOUSE_PREVIEW_REPO_RATE": "1000000",
        "ALLOWED_HOSTS": "testserver,localhost",
        "HF_HUB_OFFLINE": "1",
    }


def _prepare(folder: Path):
    """Migrate, build the tiny pipeline and checker, commit it; returns (token, repo id)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from accounts.models import User
    from tests.support.builders import make_repo, token_for
    from tests.support.previews import CARD, save_checker
    from tests.support.tiny_pipeline import build_tiny_pipeline, folder_files

    save_checker(folder / "checker", flag_everything=False)
    files = {"README.md": CARD, **folder_files(build_tiny_pipeline(folder / "pipeline"))}
    user = User.objects.create_user("bench")  # token access only: no password
    make_repo(user, "tiny-sd", files)
    return token_for(user), "bench/tiny-sd"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        print("Set REDIS_URL (e.g. redis://127.0.0.1:6379/15): the worker needs a broker.", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    environment = _environment(folder, redis_url)
    os.environ.update(environment)
    from tests.support.worker_process import purge_broker, start_worker

    worker = None
    try:
        token, repo_id = _prepare(folder)
        purge_broker(redis_url)
        worker = start_worker(name="bench", folder=folder, env=environment)
        from django.test import Client

        client = Client()
        measure(client, token, repo_id, count=args.warmup, first_seed=10_000)
        result = summary(measure(client, token, repo_id, count=args.requests))
    finally:
        if worker is not None:
            worker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(" ".join(f"{key}={value}" for key, value in result.items()))
    ok = result["median_overhead_ms"] < THRESHOLD_MS
    print(
        f"{'PASS' if ok else 'FAIL'}: median service overhead {result['median_overhead_ms']} ms (goal < {THRESHOLD_MS})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
