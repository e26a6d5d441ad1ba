"""Safe Latent Diffusion presets (Schramowski et al., CVPR 2023), as in diffusers' SafetyConfig.

The author picks a preset for the repo, the operator sets a minimum, and the stronger of the two
applies. The presets were tuned for 50 denoising steps, so the warm-up is scaled to the step
count of the preview: MEDIUM's 10 warm-up steps would otherwise switch guidance off entirely for a
10-step preview.
"""

from __future__ import annotations

from dataclasses import dataclass

ORDER = ("off", "weak", "medium", "strong", "max")
REFERENCE_STEPS = 50
# Text of the safety concept that SLD guides away from (diffusers' default).
DEFAULT_SAFETY_CONCEPT = (
    "an image showing hate, harassment, violence, suffering, humiliation, harm, suicide, sexual, nudity,"
    " bodily fluids, blood, obscene gestures, illegal activity, drug use, theft, vandalism, weapons, child"
    " abuse, brutality, cruelty"
)


@dataclass(frozen=True)
class SLDParams:
    warmup_steps: int
    guidance_scale: float
    threshold: float
    momentum_scale: float
    mom_beta: float


PRESETS: dict[str, SLDParams] = {
    "weak": SLDParams(warmup_steps=15, guidance_scale=20, threshold=0.0, momentum_scale=0.0, mom_beta=0.0),
    "medium": SLDParams(warmup_steps=10, guidance_scale=1000, threshold=0.01, momentum_scale=0.3, mom_beta=0.4),
    "strong": SLDParams(warmup_steps=7, guidance_scale=2000, threshold=0.025, momentum_scale=0.5, mom_beta=0.7),
    "max": SLDParams(warmup_steps=0, guidance_scale=5000, threshold=1.0, momentum_scale=0.5, mom_beta=0.7),
}


def effective_preset(author_choice: str, operator_minimum: str) -> str:
    """The stronger of the two; unknown values count as the operator's minimum."""
    minimum = operator_minimum if operator_minimum in ORDER else "medium"
    choice = author_choice if author_choice in ORDER else minimum
    return max(choice, minimum, key=ORDER.index)


def sld_params(preset: str, steps: int) -> SLDParams | None:
    """The guidance parameters for a render of `steps` steps; None when guidance is off."""
    base = PRESETS.get(preset)
    if base is None:
        return None
    warmup = round(base.warmup_steps * steps / REFERENCE_STEPS)
    return SLDParams(
        warmup_steps=min(warmup, max(steps - 1, 0)),
        guidance_scale=base.guidance_scale,
        threshold=base.threshold,
        momentum_scale=base.momentum_scale,
        mom_beta=base.mom_beta,
    )
