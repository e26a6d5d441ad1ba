import pytest

from registry import services
from tests.support.builders import make_repo

GATED_CARD = b"""---
license: mit
extra_gated_heading: Request access to Painter
extra_gated_prompt: You agree not to use the model for harm.
extra_gated_fields:
  Company: text
  Country: country
  Purpose:
    type: select
    options: [Research, {label: Commercial, value: business}]
  I agree to the terms: checkbox
  Website: {type: text, required: false}
---
# Painter
"""
ANSWERS = {"Company": "Acme", "Country": "fr", "Purpose": "Research", "I agree to the terms": True}


@pytest.fixture
def gated_repo(alice):
    repo = make_repo(alice, "painter", {"README.md": GATED_CARD, "config.json": b"{}", "model.safetensors": b"\0" * 64})
    return services.repo_settings_update(repo=repo, gated="manual", actor=alice)
