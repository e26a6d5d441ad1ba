"""diffusers' from_pretrained, pointed at Gatehouse, loads a pipeline committed through the services."""

import pytest

from tests.support.builders import make_repo
from tests.support.tiny_pipeline import build_tiny_pipeline, folder_files

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def tiny_pipeline_files(tmp_path_factory):
    return folder_files(build_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "pipe"))


@pytest.mark.s3
def test_diffusion_pipeline_loads_from_gatehouse_and_generates(hub, alice, tiny_pipeline_files):
    import torch
    from diffusers import DiffusionPipeline

    card = b"---\nlibrary_name: diffusers\npipeline_tag: text-to-image\nlicense: mit\n---\n# tiny-sd\n"
    make_repo(alice, "tiny-sd", {"README.md": card, **tiny_pipeline_files})

    pipe = DiffusionPipeline.from_pretrained("alice/tiny-sd")
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    image = pipe(
        "a photo of a cat", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="pil"
    ).images[0]
    assert image.size == (64, 64)
    # The weights are the committed ones, byte for byte.
    from safetensors.torch import load

    committed = load(tiny_pipeline_files["unet/diffusion_pytorch_model.safetensors"])
    loaded = pipe.unet.state_dict()
    assert committed.keys() == loaded.keys()
    assert all(torch.equal(committed[name], loaded[name]) for name in committed)
