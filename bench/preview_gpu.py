"""Preview throughput on a GPU: Gatehouse (API to stored result) against a plain diffusers loop.

Builds a Stable-Diffusion-1.5-sized pipeline with random weights (UNet 860M, VAE 84M, CLIP-L text
encoder, a full-size ViT-L/14 safety checker), commits it to a throw-away Gatehouse, and measures
at 512x512:

  baseline   plain StableDiffusionPipeline loop in one process, batch 1, same checker
  batch 1    N requests through the API, one `celery worker` with GATEHOUSE_PREVIEW_MAX_BATCH=1
  batch 4    the same with GATEHOUSE_PREVIEW_MAX_BATCH=4 (queued jobs are batched)

Goals (issue 6): batch-1 throughput >= 0.9 x baseline; batch 4 faster than batch 1.
Self-contained: SQLite in a temp folder and the filesystem broker, so it runs on a bare GPU box:

    .venv/bin/python bench/preview_gpu.py                 # needs CUDA; prints the figures
    .venv/bin/python bench/preview_gpu.py --size tiny --device cpu --requests 6   # plumbing check

Exit status 1 when a goal is missed (or 2 when no GPU is available for the sd15 size).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIDES = {"sd15": 512, "tiny": 64}


def build_sd15(folder: Path, device: str) -> Path:
    """A random-weight pipeline with SD 1.5's shapes, saved in fp16 safetensors."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    from tests.support.tiny_pipeline import build_tokenizer

    tokenizer = build_tokenizer(folder.parent / "tokenizer-src")
    with torch.device(device):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            cross_attention_dim=768,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        )
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            latent_channels=4,
            layers_per_block=2,
            sample_size=512,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=768,
                intermediate_size=3072,
                num_attention_heads=12,
                num_hidden_layers=12,
                vocab_size=len(tokenizer),
                max_position_embeddings=77,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
            )
        )
        checker = StableDiffusionSafetyChecker(
            CLIPConfig(
                vision_config=dict(
                    hidden_size=1024,
                    intermediate_size=4096,
                    num_attention_heads=16,
                    num_hidden_layers=24,
                    image_size=224,
                    patch_size=14,
                ),
                text_config=dict(vocab_size=514, bos_token_id=0, eos_token_id=1, pad_token_id=1),
                projection_dim=768,
            )
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    ).to(dtype=torch.float16)
    pipe.save_pretrained(folder / "pipeline", safe_serialization=True)
    checker.half().save_pretrained(folder / "checker" / "safety_checker", safe_serialization=True)
    CLIPImageProcessor().save_pretrained(folder / "checker" / "feature_extractor")
    return folder / "pipeline"


def build_tiny(folder: Path, device: str) -> Path:
    from tests.support.previews import save_checker
    from tests.support.tiny_pipeline import build_tiny_pipeline

    save_checker(folder / "checker", flag_everything=False)
    return build_tiny_pipeline(folder / "pipeline")


def commit_folder(repo, pipeline: Path, user) -> None:
    """Commit every file, streaming large ones into the blob store (gigabytes of weights)."""
    from registry import services

    operations = []
    for path in sorted(pipeline.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(pipeline))
        if path.stat().st_size < 1024 * 1024:
            operations.append(services.blob_stage(repo=repo, proof_from=None, path=rel, content=path.read_bytes()))
            continue
        with path.open("rb") as handle:
            operations.append(
                services.blob_stage_stream(
                    repo=repo, proof_from=None, path=rel, stream=handle, size=path.stat().st_size
                )
            )
    services.commit_create(repo=repo, branch="main", operations=operations, summary="random weights", author=user)


def baseline(pipeline: Path, checker: Path, *, device: str, side: int, steps: int, count: int) -> float:
    """Images per second of a plain diffusers loop at batch 1 (with the same safety checker)."""
    import gc

    import torch
    from diffusers import StableDiffusionPipeline

    from workers.safety.checker import load_checker

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    safety, extractor = load_checker(checker, device=torch.device(device), dtype=dtype)
    pipe = StableDiffusionPipeline.from_pretrained(
        pipeline, safety_checker=safety, feature_extractor=extractor, dtype=dtype, use_safetensors=True
    ).to(device)
    pipe.set_progress_bar_config(disable=True)

    def one(seed: int) -> None:
        generator = torch.Generator("cpu").manual_seed(seed)
        loaded["pipe"]("a photo of a cat", num_inference_steps=steps, height=side, width=side, generator=generator)

    loaded = {"pipe": pipe}
    for seed in range(2):
        one(seed)
    _sync(device)
    started = time.perf_counter()
    for seed in range(count):
        one(100 + seed)
    _sync(device)
    rate = count / (time.perf_counter() - started)
    loaded.clear()
    del pipe, safety
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return rate


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def through_gatehouse(folder, environment, token, repo_id, *, batch: int, side: int, steps: int, count: int) -> float:
    """Images per second from submitting `count` requests to the last result committed."""
    from django.test import Client

    from tests.support.worker_process import start_worker
    from workers.models import PreviewJob

    worker = start_worker(
        name=f"gpu-b{batch}", folder=folder, env={**environment, "GATEHOUSE_PREVIEW_MAX_BATCH": str(batch)}
    )
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def submit(seeds) -> list[str]:
        ids = []
        for seed in seeds:
            body = {"prompt": "a photo of a cat", "seed": seed, "num_inference_steps": steps, "width": side}
            body["height"] = side
            response = client.post(f"/api/models/{repo_id}/previews", body, "application/json", **headers)
            assert response.status_code == 202, response.content
            ids.append(response.json()["id"])
        return ids

    def wait(ids) -> list:
        jobs = PreviewJob.objects.filter(requests__pk__in=ids)
        while jobs.filter(status__in=["queued", "running"]).exists():
            time.sleep(0.05)
        assert set(jobs.values_list("status", flat=True)) == {"succeeded"}, list(jobs.values("status", "error"))
        return list(jobs.values_list("finished_at", flat=True))

    try:
        wait(submit(range(batch * 1000, batch * 1000 + 2)))  # load the pipeline, warm CUDA kernels
        started = time.time()
        finished = wait(submit(range(batch * 1000 + 10, batch * 1000 + 10 + count)))
        return count / (max(finished).timestamp() - started)
    finally:
        worker.stop()


def environment_for(folder: Path, device: str, count: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "GATEHOUSE_VAR_DIR": str(folder / "var"),
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_POLLING_INTERVAL": "0.01",
        "GATEHOUSE_STORAGE_ROOT": str(folder / "storage"),
        "GATEHOUSE_PREVIEW_MEDIA_ROOT": str(folder / "media"),
        "GATEHOUSE_PREVIEW_MODEL_CACHE": str(folder / "models"),
        "GATEHOUSE_SAFETY_CHECKER_PATH": str(folder / "checker"),
        "GATEHOUSE_PREVIEW_DEVICE": device,
        "GATEHOUSE_PREVIEW_SLD_MINIMUM": "off",
        "GATEHOUSE_PREVIEW_USER_RATE": "1000000",
        "GATEHOUSE_PREVIEW_REPO_RATE": "1000000",
        "GATEHOUSE_PREVIEW_USER_QUEUE": str(count + 10),
        "GATEHOUSE_PREVIEW_REPO_QUEUE": str(count + 10),
        "ALLOWED_HOSTS": "testserver,localhost",
        "HF_HUB_OFFLINE": "1",
    }


def run(*, size: str, device: str, requests: int, steps: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="gatehouse-gpu-bench-"))
    environment = environment_for(folder, device, requests)
    os.environ.update(environment)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from accounts.models import User
        from registry import services as registry_services
        from tests.support.builders import token_for
        from workers import services

        pipeline = (build_sd15 if size == "sd15" else build_tiny)(folder, device)
        user = User.objects.create_user("bench")
        repo = registry_services.repo_create(namespace="bench", name="sd", creator=user)
        commit_folder(repo, pipeline, user)
        services.preview_settings_update(repo=repo, sld_preset="off")
        token, side = token_for(user), SIDES[size]
        figures = {"size": size, "device": device, "side": side, "steps": steps, "requests": requests}
        figures["baseline_ips"] = baseline(
            pipeline, folder / "checker", device=device, side=side, steps=steps, count=requests
        )
        for batch in (1, 4):
            figures[f"gatehouse_b{batch}_ips"] = through_gatehouse(
                folder, environment, token, "bench/sd", batch=batch, side=side, steps=steps, count=requests
            )
        figures["ratio_b1_vs_baseline"] = figures["gatehouse_b1_ips"] / figures["baseline_ips"]
        figures["batching_gain"] = figures["gatehouse_b4_ips"] / figures["gatehouse_b1_ips"]
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in figures.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIDES), default="sd15")
    parser.add_argument("--device", default="")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.size == "sd15" and not device.startswith("cuda"):
        print("The SD 1.5-sized benchmark needs a CUDA GPU (try --size tiny --device cpu).", file=sys.stderr)
        return 2
    figures = run(size=args.size, device=device, requests=args.requests, steps=args.steps)
    print(json.dumps(figures))
    ok = figures["ratio_b1_vs_baseline"] >= 0.9 and figures["batching_gain"] > 1.0
    print(
        f"{'PASS' if ok else 'FAIL'}: batch-1 ratio {figures['ratio_b1_vs_baseline']} (goal >= 0.9), "
        f"batching gain {figures['batching_gain']} (goal > 1)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
