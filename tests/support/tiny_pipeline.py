"""A tiny random-weight Stable Diffusion pipeline, built offline (no hub access, ~9 MB).

Recipe from ../shared/reference/safety-pipeline.md §4: byte-level CLIP tokenizer built in code,
small UNet/VAE/text encoder, DDIM scheduler and a tiny safety checker. Imports torch, so only
tests and workers use it, never web processes.
"""

from __future__ import annotations

import json
from pathlib import Path


def _byte_chars() -> list[str]:
    """GPT-2's reversible byte -> printable character map (the CLIP BPE alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for _, code in sorted(zip(printable, codes, strict=True))]


def _byte_level_vocab() -> dict[str, int]:
    chars = _byte_chars()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in chars:
        vocab[char] = len(vocab)
    for char in chars:
        vocab[char + "</w>"] = len(vocab)
    return vocab


def build_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(_byte_level_vocab()))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def build_safety_checker(*, flag_everything: bool = False):
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=32,
            patch_size=4,
        ),
        text_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=514,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        projection_dim=32,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    if flag_everything:
        checker.concept_embeds_weights.data.fill_(-1.0)
    extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return checker, extractor


def build_tiny_pipeline(out_dir: Path, *, with_checker: bool = True) -> Path:
    """Write a diffusers StableDiffusionPipeline folder (safetensors) to `out_dir`."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(out_dir.parent / f"{out_dir.name}-tokenizer-src")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=len(tokenizer),
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
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
    checker, extractor = build_safety_checker() if with_checker else (None, None)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=checker,
        feature_extractor=extractor,
        image_encoder=None,
        requires_safety_checker=with_checker,
    )
    pipe.save_pretrained(out_dir, safe_serialization=True)
    # Portable model_index: transformers 5 without torchvision records the Pil processor class.
    index_path = out_dir / "model_index.json"
    index = json.loads(index_path.read_text())
    if index.get("feature_extractor") and index["feature_extractor"][1] == "CLIPImageProcessorPil":
        index["feature_extractor"][1] = "CLIPImageProcessor"
        index_path.write_text(json.dumps(index, indent=2))
    # transformers 4.x clients need the slow tokenizer files too.
    for name in ("vocab.json", "merges.txt"):
        target = out_dir / "tokenizer" / name
        if not target.exists():
            target.write_bytes((out_dir.parent / f"{out_dir.name}-tokenizer-src" / name).read_bytes())
    return out_dir


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, keyed by its repo path."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
