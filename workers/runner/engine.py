"""The preview engine: loads pipelines, runs a batch through the three safety stages, returns PNGs.

Imported by the Celery worker only (torch and diffusers load here). CUDA when present, the CPU
otherwise; fp16 and PyTorch's scaled-dot-product attention on the GPU. CUDA is initialised on
first use inside the worker's child process, never in the parent that forks it.
"""

from __future__ import annotations

import gc
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers.models.attention_processor import AttnProcessor2_0

from workers.runner.cache import PipelineCache
from workers.runner.specs import BatchInput, JobOutcome, Limits, Verdict
from workers.safety import checker as safety_checker
from workers.safety.presets import DEFAULT_SAFETY_CONCEPT, sld_params
from workers.safety.prompts import screen_prompt
from workers.safety.sld import SafeLatentDiffusionPipeline

logger = logging.getLogger(__name__)
CPU_CACHE_BYTES = 4 * 1024**3
GPU_CACHE_FRACTION = 0.6


class RunnerOutOfMemory(RuntimeError):
    """The device ran out of memory for this batch; the jobs fail, the worker lives on."""


@dataclass(frozen=True)
class EngineConfig:
    checker_path: str = ""
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    cache_bytes: int = 0  # 0: a share of the device's memory
    cpu_threads: int = 0  # 0: torch's default (all cores)
    limits: Limits = field(default_factory=Limits)


def pick_device(preference: str) -> tuple[torch.device, torch.dtype]:
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(preference)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return device, torch.float16
    return device, torch.float32


def _module_bytes(pipe, skip: object) -> int:
    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module) and component is not skip:
            total += sum(tensor.numel() * tensor.element_size() for tensor in component.parameters())
            total += sum(tensor.numel() * tensor.element_size() for tensor in component.buffers())
    return total


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


class PreviewEngine:
    def __init__(self, config: EngineConfig):
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        # Per-load chatter (component type notes, prompt truncation) would flood worker logs.
        diffusers_logging.set_verbosity_error()
        diffusers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        self.config = config
        self.device, self.dtype = pick_device(config.device)
        if self.device.type == "cpu" and config.cpu_threads:
            # OpenMP spin-waits collapse when threads outnumber free cores (a shared host).
            torch.set_num_threads(config.cpu_threads)
        budget = config.cache_bytes or self._default_budget()
        self.cache = PipelineCache(budget, on_evict=self._free_memory)
        self._checker = None

    def _default_budget(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.get_device_properties(self.device).total_memory * GPU_CACHE_FRACTION)
        return CPU_CACHE_BYTES

    def _free_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return f"cuda:{torch.cuda.get_device_name(self.device)}"
        return "cpu"

    def checker(self):
        """The operator's checker and feature extractor, loaded once per worker process."""
        if self._checker is None:
            self._checker = safety_checker.load_checker(self.config.checker_path, device=self.device, dtype=self.dtype)
        return self._checker

    def pipeline(self, model_dir: Path, key: str) -> SafeLatentDiffusionPipeline:
        checker, extractor = self.checker()

        def load():
            pipe = SafeLatentDiffusionPipeline.from_pretrained(
                model_dir,
                safety_checker=checker,
                feature_extractor=extractor,
                requires_safety_checker=True,
                use_safetensors=True,
                local_files_only=True,
                dtype=self.dtype,
            )
            pipe.to(self.device)
            pipe.set_progress_bar_config(disable=True)
            pipe.unet.set_attn_processor(AttnProcessor2_0())
            pipe.vae.set_attn_processor(AttnProcessor2_0())
            return pipe, _module_bytes(pipe, skip=checker)

        return self.cache.get((key, str(self.device), str(self.dtype)), load)

    def render_batch(self, batch: BatchInput, *, on_step: Callable[[int], None] | None = None) -> list[JobOutcome]:
        """One outcome per job, in order. Blocked images are dropped here and never leave."""
        started = time.perf_counter()
        outcomes = {job.job_id: JobOutcome(job_id=job.job_id, status="running") for job in batch.jobs}
        runnable = []
        for job in batch.jobs:
            verdict = screen_prompt(job.params.prompt, batch.safety.blocked_concepts)
            outcome = outcomes[job.job_id]
            if verdict.blocked:
                outcome.status, outcome.blocked_stage, outcome.blocked_category = "blocked", "prompt", verdict.category
                outcome.verdicts.append(Verdict("prompt", "blocked", verdict.category, {"phrase": verdict.phrase}))
            else:
                outcome.verdicts.append(Verdict("prompt", "passed"))
                runnable.append(job)
        if runnable:
            self._render(batch, runnable, outcomes, on_step, started)
        return [outcomes[job.job_id] for job in batch.jobs]

    def _render(self, batch, runnable, outcomes, on_step, started) -> None:
        checker, extractor = self.checker()
        pipe = self.pipeline(batch.model_dir, batch.model_key)
        loaded = time.perf_counter()
        if on_step is not None:
            on_step(0)  # loading can take a while: let the caller renew its lease before denoising
        first = runnable[0].params
        sld = sld_params(batch.safety.preset, first.steps)
        concept = batch.safety.safety_concept or DEFAULT_SAFETY_CONCEPT
        try:
            images = pipe.render(
                prompts=[job.params.prompt for job in runnable],
                negative_prompts=[job.params.negative_prompt for job in runnable],
                generators=[torch.Generator("cpu").manual_seed(job.params.seed) for job in runnable],
                steps=first.steps,
                guidance_scale=first.guidance_scale,
                height=first.height,
                width=first.width,
                sld=sld,
                safety_concept=concept,
                on_step=on_step,
            )
            denoised = time.perf_counter()
            verdicts = safety_checker.screen(checker, extractor, images)
            pictures = pipe.image_processor.postprocess(images.float(), output_type="pil")
        except torch.cuda.OutOfMemoryError as exc:
            self.cache.clear()
            self._free_memory()
            raise RunnerOutOfMemory(str(exc)) from exc
        checked = time.perf_counter()
        guidance = Verdict("guidance", "applied" if sld else "passed", "", {"preset": batch.safety.preset})
        if sld:
            guidance.detail.update({"warmup_steps": sld.warmup_steps, "scale": sld.guidance_scale, "concept": concept})
        for job, verdict, picture in zip(runnable, verdicts, pictures, strict=True):
            outcome = outcomes[job.job_id]
            outcome.verdicts.append(Verdict(guidance.stage, guidance.outcome, "", dict(guidance.detail)))
            detail = {"max_concept_score": verdict.max_concept_score, "special_care": verdict.special_care}
            if verdict.flagged:
                outcome.status, outcome.blocked_stage = "blocked", "checker"
                outcome.blocked_category = safety_checker.CHECKER_CATEGORY
                outcome.verdicts.append(Verdict("checker", "blocked", safety_checker.CHECKER_CATEGORY, detail))
            else:
                encoding = time.perf_counter()
                outcome.status, outcome.image_png = "succeeded", _png(picture)
                outcome.timings["encode_ms"] = round((time.perf_counter() - encoding) * 1000, 1)
                outcome.verdicts.append(Verdict("checker", "passed", "", detail))
            outcome.timings |= {
                "load_ms": round((loaded - started) * 1000, 1),
                "denoise_ms": round((denoised - loaded) * 1000, 1),
                "check_ms": round((checked - denoised) * 1000, 1),
                "batch_size": len(runnable),
            }
