"""Stage 2: Safe Latent Diffusion guidance inside our own Stable Diffusion pipeline.

diffusers' StableDiffusionPipelineSafe is deprecated, untested upstream and has a batch bug (its
unsafe-image buffer is hard-coded to two images, so flagging image 3 of a batch raises
IndexError). Rather than depend on it, `SafeLatentDiffusionPipeline` subclasses the maintained
StableDiffusionPipeline and applies the same guidance equations (SLD paper eqs. 3-8, as in
diffusers) in a compact denoising loop that takes one generator per image. It returns decoded
images and nothing else: no latents, no output_type, and no copy of unsafe images anywhere.
With guidance off it computes exactly what StableDiffusionPipeline computes (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline

from workers.safety.presets import SLDParams


def apply_sld(
    noise_uncond: torch.Tensor,
    noise_text: torch.Tensor,
    noise_safety: torch.Tensor,
    momentum: torch.Tensor | None,
    step: int,
    params: SLDParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(guidance, new momentum): the classifier-free guidance direction minus the safety term."""
    guidance = noise_text - noise_uncond
    if momentum is None:
        momentum = torch.zeros_like(guidance)
    difference = noise_text - noise_safety
    scale = torch.clamp(torch.abs(difference) * params.guidance_scale, max=1.0)
    scale = torch.where(difference >= params.threshold, torch.zeros_like(scale), scale)
    safety_guidance = (noise_safety - noise_uncond) * scale + params.momentum_scale * momentum
    momentum = params.mom_beta * momentum + (1 - params.mom_beta) * safety_guidance
    if step >= params.warmup_steps:
        guidance = guidance - safety_guidance
    return guidance, momentum


class SafeLatentDiffusionPipeline(StableDiffusionPipeline):
    """StableDiffusionPipeline plus `render`, the only entry point previews use."""

    def run_safety_checker(self, image, device, dtype):
        # SECURITY: the inherited __call__ (used by benchmarks) must never run without a checker.
        if self.safety_checker is None or self.feature_extractor is None:
            raise RuntimeError("SafeLatentDiffusionPipeline refuses to run without a safety checker.")
        return super().run_safety_checker(image, device, dtype)

    def _embeddings(self, prompts, negative_prompts, device, do_cfg: bool, safety_concept: str | None):
        positive, negative = self.encode_prompt(prompts, device, 1, do_cfg, negative_prompts)
        if not do_cfg:
            return positive
        parts = [negative, positive]
        if safety_concept is not None:
            safety, _ = self.encode_prompt([safety_concept] * len(prompts), device, 1, False)
            parts.append(safety)
        return torch.cat(parts)

    @torch.no_grad()
    def render(
        self,
        *,
        prompts: list[str],
        negative_prompts: list[str],
        generators: list[torch.Generator],
        steps: int,
        guidance_scale: float,
        height: int,
        width: int,
        sld: SLDParams | None,
        safety_concept: str,
        on_step: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Decoded images (N, 3, H, W) in [-1, 1], one per prompt, each from its own generator."""
        device = self._execution_device
        do_cfg = guidance_scale > 1.0
        guided = sld if sld is not None and do_cfg and sld.guidance_scale > 1.0 else None
        concept = safety_concept if guided is not None else None
        embeddings = self._embeddings(prompts, negative_prompts, device, do_cfg, concept)
        self.scheduler.set_timesteps(steps, device=device)
        latents = self.prepare_latents(
            len(prompts), self.unet.config.in_channels, height, width, embeddings.dtype, device, generators
        )
        extra_step_kwargs = self.prepare_extra_step_kwargs(generators, 0.0)
        copies = 3 if guided is not None else 2 if do_cfg else 1
        momentum = None
        for index, timestep in enumerate(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(torch.cat([latents] * copies), timestep)
            noise = self.unet(model_input, timestep, encoder_hidden_states=embeddings, return_dict=False)[0]
            if guided is not None:
                uncond, text, safety = noise.chunk(3)
                guidance, momentum = apply_sld(uncond, text, safety, momentum, index, guided)
                noise = uncond + guidance_scale * guidance
            elif do_cfg:
                uncond, text = noise.chunk(2)
                noise = uncond + guidance_scale * (text - uncond)
            latents = self.scheduler.step(noise, timestep, latents, **extra_step_kwargs, return_dict=False)[0]
            if on_step is not None:
                on_step(index + 1)
        return self.vae.decode(latents / self.vae.config.scaling_factor, return_dict=False, generator=generators)[0]
