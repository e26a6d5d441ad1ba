from workers.safety.presets import PRESETS, effective_preset, sld_params


def test_the_stronger_of_author_and_operator_applies():
    assert effective_preset("weak", "medium") == "medium"
    assert effective_preset("max", "weak") == "max"
    assert effective_preset("off", "off") == "off"
    assert effective_preset("bogus", "strong") == "strong"


def test_warmup_scales_with_steps_and_presets_match_diffusers():
    assert PRESETS["medium"].guidance_scale == 1000 and PRESETS["max"].warmup_steps == 0
    assert sld_params("medium", 50).warmup_steps == 10
    assert sld_params("medium", 10).warmup_steps == 2
    assert sld_params("weak", 2).warmup_steps == 1  # never all steps: guidance always gets a step
    assert sld_params("off", 20) is None
