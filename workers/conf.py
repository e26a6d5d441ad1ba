"""Preview settings turned into the plain configuration objects the runner takes."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from workers.runner.specs import Concept, Limits
from workers.safety.presets import DEFAULT_SAFETY_CONCEPT
from workers.safety.prompts import DEFAULT_BLOCKED_CONCEPTS, parse_concepts


def limits() -> Limits:
    return Limits(
        max_prompt_chars=settings.GATEHOUSE_PREVIEW_MAX_PROMPT_CHARS,
        max_steps=settings.GATEHOUSE_PREVIEW_MAX_STEPS,
        max_side=settings.GATEHOUSE_PREVIEW_MAX_SIDE,
        max_pixels=settings.GATEHOUSE_PREVIEW_MAX_SIDE**2,
    )


def operator_concepts() -> tuple[Concept, ...]:
    """The operator's blocked concepts: the setting, plus the file if one is configured."""
    text = settings.GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS or DEFAULT_BLOCKED_CONCEPTS
    path = settings.GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS_FILE
    if path:
        text += "\n" + Path(path).read_text(encoding="utf-8")
    return parse_concepts(text)


def safety_concept() -> str:
    return settings.GATEHOUSE_PREVIEW_SAFETY_CONCEPT or DEFAULT_SAFETY_CONCEPT


def previews_available() -> bool:
    """Fail closed: without the operator's checker no preview is queued at all."""
    return bool(settings.GATEHOUSE_SAFETY_CHECKER_PATH)


def engine_config():
    """EngineConfig for this worker (import kept here: engine pulls in torch)."""
    from workers.runner.engine import EngineConfig

    return EngineConfig(
        checker_path=settings.GATEHOUSE_SAFETY_CHECKER_PATH,
        device=settings.GATEHOUSE_PREVIEW_DEVICE,
        cache_bytes=settings.GATEHOUSE_PREVIEW_PIPELINE_CACHE_BYTES,
        cpu_threads=settings.GATEHOUSE_PREVIEW_CPU_THREADS,
        limits=limits(),
    )
