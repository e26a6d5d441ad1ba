"""Stage 3: the operator's image safety checker, run on every image whatever the repo ships.

The checker is diffusers' `StableDiffusionSafetyChecker` (CLIP vision tower plus concept
embeddings with per-concept thresholds), loaded from a local folder the operator configures
(GATEHOUSE_SAFETY_CHECKER_PATH): either an SD-style root with `safety_checker/` and
`feature_extractor/`, or a folder holding both (like CompVis/stable-diffusion-safety-checker).

`screen` recomputes the checker's decision rather than calling its forward(): forward() blacks
out flagged images and throws the scores away, and the scores are what admins audit. The
arithmetic is the same as diffusers' (tests/workers/test_safety_checker.py compares the two).
Known limit: the 17 concepts are all sexual, so the category reported is "sexual"; violence and
gore are left to prompt screening and SLD guidance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

CHECKER_CATEGORY = "sexual"


class CheckerUnavailable(RuntimeError):
    """No usable checker: previews fail closed rather than run unchecked."""


@dataclass(frozen=True)
class CheckerVerdict:
    flagged: bool
    max_concept_score: float
    special_care: bool


def _folders(path: Path) -> tuple[Path, Path]:
    if (path / "safety_checker").is_dir():
        return path / "safety_checker", path / "feature_extractor"
    return path, path


def load_checker(path: str | Path | None, *, device: torch.device, dtype: torch.dtype):
    """(checker, feature extractor) from the operator's folder; safetensors only."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    if not path:
        raise CheckerUnavailable("No safety checker is configured (GATEHOUSE_SAFETY_CHECKER_PATH).")
    model_dir, extractor_dir = _folders(Path(path))
    if not model_dir.is_dir() or not any(model_dir.glob("*.safetensors")):
        raise CheckerUnavailable(f"No safetensors safety checker in {model_dir}.")
    try:
        checker = StableDiffusionSafetyChecker.from_pretrained(model_dir, use_safetensors=True, local_files_only=True)
        extractor = CLIPImageProcessor.from_pretrained(extractor_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise CheckerUnavailable(f"The safety checker in {path} could not be loaded: {exc}") from exc
    # transformers wraps PreTrainedModel.to in functools.wraps, which types it as an unbound callable.
    model = checker.to(device=device, dtype=dtype)  # type: ignore[call-arg]
    return model.eval(), extractor


def _cosine(image_embeds: torch.Tensor, concept_embeds: torch.Tensor) -> torch.Tensor:
    normalized_image = torch.nn.functional.normalize(image_embeds)
    normalized_concepts = torch.nn.functional.normalize(concept_embeds)
    return torch.mm(normalized_image, normalized_concepts.t())


@torch.no_grad()
def screen(checker, extractor, images: torch.Tensor) -> list[CheckerVerdict]:
    """Verdicts for decoded images (N, 3, H, W) in [-1, 1]; nothing is modified."""
    from diffusers.image_processor import VaeImageProcessor

    pil_images = VaeImageProcessor(do_resize=False).postprocess(images.detach().float().cpu(), output_type="pil")
    pixel_values = extractor(pil_images, return_tensors="pt").pixel_values
    parameter = next(checker.parameters())
    clip_input = pixel_values.to(device=parameter.device, dtype=parameter.dtype)
    pooled = checker.vision_model(clip_input)[1]
    embeds = checker.visual_projection(pooled)
    special_cos = _cosine(embeds, checker.special_care_embeds).float().cpu().numpy()
    concept_cos = _cosine(embeds, checker.concept_embeds).float().cpu().numpy()
    special_thresholds = checker.special_care_embeds_weights.float().cpu().numpy()
    concept_thresholds = checker.concept_embeds_weights.float().cpu().numpy()
    verdicts = []
    for index in range(len(pil_images)):
        # diffusers: any special-care hit lowers every concept threshold by 0.01 (a stricter filter).
        special_scores = np.round(special_cos[index] - special_thresholds, 3)
        special_care = bool((special_scores > 0).any())
        adjustment = 0.01 if special_care else 0.0
        concept_scores = np.round(concept_cos[index] - concept_thresholds + adjustment, 3)
        verdicts.append(
            CheckerVerdict(
                flagged=bool((concept_scores > 0).any()),
                max_concept_score=float(concept_scores.max()) if concept_scores.size else 0.0,
                special_care=special_care,
            )
        )
    return verdicts
