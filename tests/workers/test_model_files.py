import json

import pytest

from workers.runner.files import UnsupportedModel, native_side, parse_model_index, plan_files

INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.42.1",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "requires_safety_checker": True,
    "image_encoder": [None, None],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
FILES = {
    "model_index.json": 10,
    "README.md": 10,
    "pipeline.py": 10,
    "safety_checker/config.json": 10,
    "safety_checker/model.safetensors": 10,
    "feature_extractor/preprocessor_config.json": 10,
    "scheduler/scheduler_config.json": 10,
    "text_encoder/config.json": 10,
    "text_encoder/model.safetensors": 10,
    "text_encoder/pytorch_model.bin": 10,
    "tokenizer/vocab.json": 10,
    "tokenizer/merges.txt": 10,
    "tokenizer/tokenizer_config.json": 10,
    "unet/config.json": 10,
    "unet/diffusion_pytorch_model.safetensors": 10,
    "unet/diffusion_pytorch_model.fp16.safetensors": 10,
    "vae/config.json": 10,
    "vae/diffusion_pytorch_model.safetensors": 10,
}


def test_plan_loads_safetensors_and_configs_only_never_the_repos_checker_or_code():
    plan = plan_files(FILES, INDEX)
    assert "unet/diffusion_pytorch_model.safetensors" in plan
    assert not any(path.startswith(("safety_checker/", "feature_extractor/")) for path in plan)
    assert not any(path.endswith((".bin", ".py", ".md")) or ".fp16." in path for path in plan)
    assert plan[0] == "model_index.json" and "tokenizer/merges.txt" in plan


def test_pickle_only_weights_are_refused_with_a_clear_message():
    files = {k: v for k, v in FILES.items() if k != "text_encoder/model.safetensors"}
    with pytest.raises(UnsupportedModel, match=r"'text_encoder' has only pickled weights \(pytorch_model.bin\)"):
        plan_files(files, INDEX)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"_class_name": "StableDiffusionXLPipeline"}, "names 'StableDiffusionXLPipeline'"),
        ({"_class_name": ["pipeline", "MyPipeline"]}, r"names \['pipeline', 'MyPipeline'\]"),
        ({"unet": ["my_module", "MyUNet"]}, "must come from diffusers"),
        ({"vae": ["diffusers", "AutoencoderTiny"]}, "unsupported class 'AutoencoderTiny'"),
        ({"scheduler": ["diffusers", "os.system"]}, "unsupported class"),
        ({"image_proj": ["diffusers", "X"]}, "unexpected component 'image_proj'"),
        ({"unet": None}, "no usable 'unet'"),
        ({"unet": ["diffusers"]}, "no usable 'unet'"),
    ],
)
def test_other_pipelines_and_custom_components_are_refused(change, message):
    with pytest.raises(UnsupportedModel, match=message):
        plan_files(FILES, {**INDEX, **change})


def test_not_a_diffusers_repo_and_size_cap():
    with pytest.raises(UnsupportedModel, match="no model_index.json"):
        parse_model_index(None)
    with pytest.raises(UnsupportedModel, match="not valid JSON"):
        parse_model_index(b"{nope")
    with pytest.raises(UnsupportedModel, match="limited to 50 bytes"):
        plan_files(FILES, INDEX, max_bytes=50)


def test_native_side_from_configs():
    configs = {
        "unet/config.json": json.dumps({"sample_size": 32}).encode(),
        "vae/config.json": json.dumps({"block_out_channels": [32, 64]}).encode(),
    }
    assert native_side(configs) == 64
    assert native_side({"unet/config.json": b"{}", "vae/config.json": None}) is None
