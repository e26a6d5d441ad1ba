"""Fixtures for the gating tests: a gated repo owned by an organisation, and one caller of each
kind the authorization matrix names."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Role
from gating import services
from registry.services import repo_settings_update
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

CARD = b"""---
license: other
extra_gated_heading: Request access to Acme Diffusion
extra_gated_prompt: You agree to **not** use the model to harm anyone.
extra_gated_button_content: Send my request
extra_gated_fields:
  Company: text
  Country: country
  Intended use:
    type: select
    options: [Research, Education, {label: Something else, value: other}]
  Tell us more:
    type: textarea
    required: false
  Start date: date_picker
  I agree to the terms: checkbox
---
# Acme Diffusion

A tiny model card: the card stays public while the weights are gated.
"""
ANSWERS = {
    "Company": "Initech",
    "Country": "FR",
    "Intended use": "Research",
    "Start date": "2030-01-31",
    "I agree to the terms": True,
}
WEIGHTS_SECRET = b"WEIGHTS-SECRET-" * 64
NOTES_SECRET = b"TOP-SECRET-NOTES: the eval set lives in bucket 7"
FILES = {
    "README.md": CARD,
    "config.json": b'{"hidden": 8}',
    "notes.txt": NOTES_SECRET,
    "model.safetensors": WEIGHTS_SECRET,
}


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    """Pages render without a collectstatic manifest; test users need no slow password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks scheduled on commit run at once in the test process, so emails land in the outbox."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def people(db):
    """owner (org admin), collaborator (org member), stranger, pending and approved requesters."""
    owner = UserFactory(username="olivia", fullname="Olivia Owner")
    org = OrganizationFactory(name="acme")
    add_member(org, owner, Role.ADMIN)
    collaborator = UserFactory(username="colin")
    add_member(org, collaborator, Role.READ)
    return {
        "owner": owner,
        "collaborator": collaborator,
        "stranger": UserFactory(username="stan"),
        "pending": UserFactory(username="penny"),
        "approved": UserFactory(username="abe"),
        "org": org,
    }


@pytest.fixture
def gated_repo(people):
    """acme/diffusion, gated (manual), with one pending and one approved request."""
    repo = make_repo(people["org"], "diffusion", FILES, author=people["owner"])
    repo = repo_settings_update(repo=repo, gated="manual")
    services.access_request_submit(repo=repo, user=people["pending"], answers=ANSWERS)
    request, _ = services.access_request_submit(repo=repo, user=people["approved"], answers=ANSWERS)
    services.access_requests_decide(repo=repo, actor=people["owner"], request_ids=[request.pk], status="accepted")
    repo.refresh_from_db()
    mail.outbox.clear()  # the set-up's own emails; tests count only what they cause
    return repo


@pytest.fixture
def tokens(people):
    return {role: token_for(user) for role, user in people.items() if role != "org"}
