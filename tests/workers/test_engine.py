"""The runner on the CPU with the tiny pipeline: no database, no Celery."""

import io

import numpy as np
import pytest

from workers.runner.specs import BatchInput, Concept, JobInput, RenderParams, SafetySpec


@pytest.fixture(scope="module")
def engine(checker_dir):
    from workers.runner.engine import EngineConfig, PreviewEngine

    return PreviewEngine(EngineConfig(checker_path=str(checker_dir)))


def batch(folder, seeds, *, preset="off", prompt="a photo of a cat", steps=2, concepts=()):
    jobs = tuple(
        JobInput(f"job{i}", RenderParams(prompt, "", seed, steps, 7.5, 64, 64)) for i, seed in enumerate(seeds)
    )
    return BatchInput(
        model_dir=folder, model_key=folder.name, jobs=jobs, safety=SafetySpec(preset=preset, blocked_concepts=concepts)
    )


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_same_seed_same_image_different_seed_different_image(engine, tiny_sd_folder):
    first = engine.render_batch(batch(tiny_sd_folder, [7]))[0]
    again = engine.render_batch(batch(tiny_sd_folder, [7]))[0]
    other = engine.render_batch(batch(tiny_sd_folder, [8]))[0]
    assert first.status == "succeeded" and first.image_png.startswith(b"\x89PNG")
    assert first.image_png == again.image_png
    assert first.image_png != other.image_png
    assert [(v.stage, v.outcome) for v in first.verdicts] == [
        ("prompt", "passed"),
        ("guidance", "passed"),
        ("checker", "passed"),
    ]


def test_guidance_off_matches_stock_stable_diffusion(engine, tiny_sd_folder):
    import torch
    from diffusers import StableDiffusionPipeline

    ours = pixels(engine.render_batch(batch(tiny_sd_folder, [3]))[0].image_png)
    stock = StableDiffusionPipeline.from_pretrained(tiny_sd_folder, use_safetensors=True, local_files_only=True)
    stock.set_progress_bar_config(disable=True)
    image = stock(
        "a photo of a cat",
        num_inference_steps=2,
        guidance_scale=7.5,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(3),
    ).images[0]
    assert np.abs(ours - np.asarray(image, dtype=np.int16)).max() <= 1


def test_safe_latent_diffusion_path_runs_and_changes_the_image(engine, tiny_sd_folder):
    plain = engine.render_batch(batch(tiny_sd_folder, [5], preset="off", steps=3))[0]
    guided = engine.render_batch(batch(tiny_sd_folder, [5], preset="max", steps=3))[0]
    assert guided.status == "succeeded"
    guidance = next(v for v in guided.verdicts if v.stage == "guidance")
    assert guidance.outcome == "applied" and guidance.detail["preset"] == "max"
    assert guidance.detail["warmup_steps"] == 0 and guidance.detail["scale"] == 5000
    assert np.abs(pixels(plain.image_png) - pixels(guided.image_png)).max() > 0


def test_batches_match_single_renders_and_keep_per_request_seeds(engine, tiny_sd_folder):
    together = engine.render_batch(batch(tiny_sd_folder, [1, 2, 3, 4], preset="strong"))
    alone = engine.render_batch(batch(tiny_sd_folder, [3], preset="strong"))[0]
    assert [outcome.status for outcome in together] == ["succeeded"] * 4
    assert together[2].timings["batch_size"] == 4
    assert np.abs(pixels(together[2].image_png) - pixels(alone.image_png)).max() <= 1
    assert together[0].image_png != together[1].image_png


def test_flagged_images_are_dropped_even_in_batches_of_four(flagging_checker_dir, tiny_sd_folder):
    """The upstream SLD pipeline raises IndexError when image 3 of a batch is flagged."""
    from workers.runner.engine import EngineConfig, PreviewEngine

    strict = PreviewEngine(EngineConfig(checker_path=str(flagging_checker_dir)))
    outcomes = strict.render_batch(batch(tiny_sd_folder, [1, 2, 3, 4], preset="medium"))
    assert [(o.status, o.blocked_stage, o.blocked_category) for o in outcomes] == [("blocked", "checker", "sexual")] * 4
    assert all(o.image_png is None for o in outcomes)
    verdict = outcomes[3].verdicts[-1]
    assert (verdict.stage, verdict.outcome) == ("checker", "blocked") and verdict.detail["max_concept_score"] > 0


def test_blocked_prompts_never_reach_the_model(tiny_sd_folder):
    from workers.runner.engine import EngineConfig, PreviewEngine

    # No checker configured: loading anything would raise, so a pass proves nothing was loaded.
    idle = PreviewEngine(EngineConfig(checker_path=""))
    concepts = (Concept("violence", "gore"),)
    [outcome] = idle.render_batch(batch(tiny_sd_folder, [1], prompt="so much GORE", concepts=concepts))
    assert (outcome.status, outcome.blocked_stage, outcome.blocked_category) == ("blocked", "prompt", "violence")
    assert len(idle.cache) == 0


def test_score_recomputation_agrees_with_diffusers_checker(checker_dir, flagging_checker_dir):
    import torch

    from workers.safety.checker import load_checker, screen

    images = torch.rand(3, 3, 64, 64) * 2 - 1
    for folder in (checker_dir, flagging_checker_dir):
        checker, extractor = load_checker(folder, device=torch.device("cpu"), dtype=torch.float32)
        ours = [verdict.flagged for verdict in screen(checker, extractor, images)]
        from diffusers.image_processor import VaeImageProcessor

        pil = VaeImageProcessor(do_resize=False).postprocess(images, output_type="pil")
        clip_input = extractor(pil, return_tensors="pt").pixel_values
        _, theirs = checker(images=images.clone(), clip_input=clip_input)
        assert ours == list(theirs)
