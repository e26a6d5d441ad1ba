"""Which files of a commit a preview loads, and which repos previews refuse.

SECURITY: previews load safetensors weights and JSON/text configuration only. Pickled weights
(.bin, .ckpt, .pt, ...) are never selected, Python files are never selected (so diffusers cannot
find custom code even if asked), the repo's own safety checker is never selected (the operator's
checker replaces it), and only the Stable Diffusion 1.x/2.x text-to-image layout is accepted.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping

PIPELINE_CLASSES = {"StableDiffusionPipeline"}
# component -> (library, allowed class names); None means any class matching SCHEDULER_CLASS.
REQUIRED_COMPONENTS: dict[str, tuple[str, set[str] | None]] = {
    "unet": ("diffusers", {"UNet2DConditionModel"}),
    "vae": ("diffusers", {"AutoencoderKL"}),
    "text_encoder": ("transformers", {"CLIPTextModel"}),
    "tokenizer": ("transformers", {"CLIPTokenizer", "CLIPTokenizerFast"}),
    "scheduler": ("diffusers", None),
}
# Replaced by the operator's checker, or unused by text-to-image previews.
IGNORED_COMPONENTS = {"safety_checker", "feature_extractor", "image_encoder"}
SCHEDULER_CLASS = re.compile(r"^[A-Za-z0-9]+Scheduler$")
WEIGHTED = {"unet", "vae", "text_encoder"}
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle")
CONFIG_NAMES = {
    "config.json",
    "scheduler_config.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
}
# Non-variant weights only: `model.safetensors`, `diffusion_pytorch_model.safetensors`, shards and index.
WEIGHT_NAME = re.compile(r"^(model|diffusion_pytorch_model)(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$")


class UnsupportedModel(ValueError):
    """The repo at this commit cannot be previewed; the message tells the user why."""


def parse_model_index(data: bytes | None) -> dict:
    if data is None:
        raise UnsupportedModel("This repo is not a diffusers pipeline: there is no model_index.json at its root.")
    try:
        index = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsupportedModel("model_index.json is not valid JSON.") from exc
    if not isinstance(index, dict):
        raise UnsupportedModel("model_index.json must be a JSON object.")
    return index


def _check_components(index: dict) -> None:
    class_name = index.get("_class_name")
    # A list here names a custom pipeline module in the repo: code, never loaded.
    if not isinstance(class_name, str) or class_name not in PIPELINE_CLASSES:
        raise UnsupportedModel(
            "Previews support Stable Diffusion 1.x/2.x text-to-image pipelines (StableDiffusionPipeline); "
            f"this repo's model_index.json names {class_name!r}."
        )
    for name, value in index.items():
        # Components are [library, class] pairs; other keys are settings (requires_safety_checker).
        if name.startswith("_") or name in IGNORED_COMPONENTS or not isinstance(value, list):
            continue
        if name not in REQUIRED_COMPONENTS:
            raise UnsupportedModel(f"model_index.json lists an unexpected component {name!r}.")
    for name, (library, classes) in REQUIRED_COMPONENTS.items():
        value = index.get(name)
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)):
            raise UnsupportedModel(f"model_index.json has no usable {name!r} component.")
        if value[0] != library:
            raise UnsupportedModel(f"Component {name!r} must come from {library}, not {value[0]!r} (no custom code).")
        allowed = classes is None and SCHEDULER_CLASS.match(value[1]) or classes is not None and value[1] in classes
        if not allowed:
            raise UnsupportedModel(f"Component {name!r} has the unsupported class {value[1]!r}.")


def plan_files(sizes: Mapping[str, int], model_index: dict, *, max_bytes: int | None = None) -> list[str]:
    """The repo paths to load, given every file path of the commit with its size.

    Raises UnsupportedModel with a message fit for the user when the repo cannot be previewed.
    """
    _check_components(model_index)
    selected = ["model_index.json"]
    for component in REQUIRED_COMPONENTS:
        prefix = f"{component}/"
        names = sorted(
            path[len(prefix) :] for path in sizes if path.startswith(prefix) and "/" not in path[len(prefix) :]
        )
        configs = [name for name in names if name in CONFIG_NAMES]
        weights = [name for name in names if WEIGHT_NAME.match(name)]
        if not configs:
            raise UnsupportedModel(f"Component {component!r} has no configuration file.")
        if component in WEIGHTED and not weights:
            pickles = [name for name in names if name.endswith(PICKLE_SUFFIXES)]
            if pickles:
                raise UnsupportedModel(
                    f"Component {component!r} has only pickled weights ({', '.join(pickles)}); previews load "
                    "safetensors only. Convert the weights to .safetensors to enable previews."
                )
            raise UnsupportedModel(f"Component {component!r} has no .safetensors weights.")
        selected.extend(prefix + name for name in configs + weights)
    total = sum(sizes[path] for path in selected)
    if max_bytes is not None and total > max_bytes:
        raise UnsupportedModel(f"The pipeline is {total} bytes; previews are limited to {max_bytes} bytes.")
    for path in selected:
        if posixpath.normpath(path) != path or path.startswith(("/", "..")):
            raise UnsupportedModel(f"Refusing the path {path!r}.")
    return selected


def native_side(configs: Mapping[str, bytes | None]) -> int | None:
    """The pipeline's native image side (unet sample size x VAE scale), from the two configs."""
    try:
        unet = json.loads(configs["unet/config.json"] or b"{}")
        vae = json.loads(configs["vae/config.json"] or b"{}")
        sample = unet.get("sample_size")
        blocks = vae.get("block_out_channels") or []
        if isinstance(sample, list):
            sample = sample[0]
        if not isinstance(sample, int) or not blocks:
            return None
        return sample * 2 ** (len(blocks) - 1)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
