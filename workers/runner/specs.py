"""What a render needs and what it produces, as plain data, plus parameter validation.

The same validator runs in the web process (so a bad request gets a clear 400 before anything is
queued) and in the worker (so a job row edited by hand cannot drive the GPU out of bounds).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEED_MAX = 2**32 - 1


class InvalidParams(ValueError):
    """A user error in the request: shown to the caller as is."""


@dataclass(frozen=True)
class Limits:
    """Operator bounds on a preview; see GATEHOUSE_PREVIEW_* settings."""

    max_prompt_chars: int = 500
    min_steps: int = 1
    max_steps: int = 50
    min_side: int = 64
    max_side: int = 768
    max_pixels: int = 768 * 768
    side_multiple: int = 8
    min_guidance: float = 1.0
    max_guidance: float = 20.0


@dataclass(frozen=True)
class RenderParams:
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance_scale: float
    width: int
    height: int

    def as_dict(self) -> dict:
        return asdict(self)


def _integer(raw: dict, name: str, default: int | None, low: int, high: int) -> int:
    value = raw.get(name, default)
    if value is None:
        raise InvalidParams(f"'{name}' is required.")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"'{name}' must be an integer.")
    if not low <= value <= high:
        raise InvalidParams(f"'{name}' must be between {low} and {high}; got {value}.")
    return value


def _text(raw: dict, name: str, limits: Limits, *, required: bool) -> str:
    value = raw.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidParams(f"'{name}' must be a string.")
    value = value.strip()
    if required and not value:
        raise InvalidParams(f"'{name}' must not be empty.")
    if len(value) > limits.max_prompt_chars:
        raise InvalidParams(f"'{name}' is {len(value)} characters long; the limit is {limits.max_prompt_chars}.")
    if any(ord(char) < 32 and char not in "\t\n" for char in value):
        raise InvalidParams(f"'{name}' contains control characters.")
    return value


def validate_params(raw: dict, limits: Limits, *, default_seed: int, default_side: int = 512) -> RenderParams:
    """Check every field against `limits`; unknown fields are refused, so a client can never
    smuggle through pipeline arguments such as `output_type` or `latents`."""
    if not isinstance(raw, dict):
        raise InvalidParams("The request body must be a JSON object.")
    known = {"prompt", "negative_prompt", "seed", "num_inference_steps", "guidance_scale", "width", "height"}
    unknown = sorted(set(raw) - known - {"revision"})
    if unknown:
        raise InvalidParams(f"Unknown parameters: {', '.join(unknown)}. Allowed: {', '.join(sorted(known))}.")
    guidance = raw.get("guidance_scale", 7.5)
    if isinstance(guidance, bool) or not isinstance(guidance, int | float):
        raise InvalidParams("'guidance_scale' must be a number.")
    if not limits.min_guidance <= guidance <= limits.max_guidance:
        raise InvalidParams(
            f"'guidance_scale' must be between {limits.min_guidance} and {limits.max_guidance}; got {guidance}."
        )
    side = min(max(default_side, limits.min_side), limits.max_side)
    width = _integer(raw, "width", side, limits.min_side, limits.max_side)
    height = _integer(raw, "height", side, limits.min_side, limits.max_side)
    for name, value in (("width", width), ("height", height)):
        if value % limits.side_multiple:
            raise InvalidParams(f"'{name}' must be a multiple of {limits.side_multiple}; got {value}.")
    if width * height > limits.max_pixels:
        raise InvalidParams(f"{width}x{height} is more than the {limits.max_pixels} pixels allowed.")
    return RenderParams(
        prompt=_text(raw, "prompt", limits, required=True),
        negative_prompt=_text(raw, "negative_prompt", limits, required=False),
        seed=_integer(raw, "seed", default_seed, 0, SEED_MAX),
        steps=_integer(raw, "num_inference_steps", 20, limits.min_steps, limits.max_steps),
        guidance_scale=float(guidance),
        width=width,
        height=height,
    )


def params_from_dict(data: dict, limits: Limits) -> RenderParams:
    """Rebuild stored parameters in the worker, re-validating them (defence in depth)."""
    raw = dict(data)
    raw["num_inference_steps"] = raw.pop("steps")
    return validate_params(raw, limits, default_seed=0)


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Concept:
    """A blocked concept: a phrase and the category reported when it matches."""

    category: str
    phrase: str


@dataclass(frozen=True)
class SafetySpec:
    """The safety configuration of a batch: the effective SLD preset and the blocked concepts."""

    preset: str
    blocked_concepts: tuple[Concept, ...] = ()
    safety_concept: str = ""


@dataclass(frozen=True)
class JobInput:
    job_id: str
    params: RenderParams


@dataclass(frozen=True)
class BatchInput:
    """Jobs sharing a model snapshot, size, steps, guidance and safety configuration."""

    model_dir: Path
    model_key: str
    jobs: tuple[JobInput, ...]
    safety: SafetySpec


@dataclass
class Verdict:
    stage: str  # prompt | guidance | checker
    outcome: str  # passed | applied | blocked
    category: str = ""
    detail: dict = field(default_factory=dict)


@dataclass
class JobOutcome:
    job_id: str
    status: str  # succeeded | blocked | failed
    image_png: bytes | None = None
    blocked_stage: str = ""
    blocked_category: str = ""
    error: str = ""
    verdicts: list[Verdict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
