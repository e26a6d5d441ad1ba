import pytest

from workers.runner.specs import InvalidParams, Limits, validate_params

LIMITS = Limits(max_prompt_chars=50, max_steps=30, max_side=256, max_pixels=256 * 256)


def check(**raw):
    return validate_params(raw, LIMITS, default_seed=5, default_side=64)


def test_defaults_and_normalisation():
    params = check(prompt="  a cat  ")
    assert (params.prompt, params.seed, params.steps, params.width, params.height) == ("a cat", 5, 20, 64, 64)
    assert params.guidance_scale == 7.5 and params.negative_prompt == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"prompt": ""}, "'prompt' must not be empty"),
        ({"prompt": "x" * 51}, "51 characters long; the limit is 50"),
        ({"prompt": "a", "num_inference_steps": 31}, "between 1 and 30"),
        ({"prompt": "a", "num_inference_steps": 0}, "between 1 and 30"),
        ({"prompt": "a", "num_inference_steps": True}, "must be an integer"),
        ({"prompt": "a", "width": 65}, "multiple of 8"),
        ({"prompt": "a", "width": 264}, "between 64 and 256"),
        ({"prompt": "a", "seed": -1}, "between 0 and"),
        ({"prompt": "a", "guidance_scale": 50}, "between 1.0 and 20.0"),
        ({"prompt": "a", "guidance_scale": "high"}, "must be a number"),
        ({"prompt": "a\x00b"}, "control characters"),
        ({"prompt": "a", "output_type": "latent"}, "Unknown parameters: output_type"),
        ({"prompt": "a", "latents": [0]}, "Unknown parameters: latents"),
        ({"prompt": ["a"]}, "must be a string"),
    ],
)
def test_out_of_range_and_unknown_parameters_are_refused(raw, message):
    with pytest.raises(InvalidParams, match=message.replace("(", r"\(")):
        check(**raw)
