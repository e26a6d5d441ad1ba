import time

import pytest

from core import lookup_cache
from registry import services
from tests.support.builders import make_repo
from tests.support.mail import capturing

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


@pytest.fixture
def mail_sent_by(mailoutbox, django_capture_on_commit_callbacks):
    """`with mail_sent_by() as sent:` lists every email the block sends. Emails go out after the
    transaction commits, which a test's own transaction never does, and from Celery tasks: the block
    runs its on-commit callbacks on exit and its tasks in-process, so `sent == []` can fail."""
    return capturing(mailoutbox, django_capture_on_commit_callbacks)


@pytest.fixture
def live_cache(settings, monkeypatch):
    """The anonymous lookup cache, on, listening to the test database (PostgreSQL only)."""
    settings.GATEHOUSE_LOOKUP_CACHE = True
    cache = lookup_cache.LookupCache()
    monkeypatch.setattr(lookup_cache, "cache", cache)
    deadline = time.monotonic() + 10
    while cache.generation() is None:
        assert time.monotonic() < deadline, "the listener did not connect"
        time.sleep(0.05)
    yield cache
    cache.stop()
