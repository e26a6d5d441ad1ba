"""Community test set-up: notification tasks run in-process, rate-limit counters start empty."""

import pytest
from django.core.cache import cache

from tests.support.builders import commit_files, make_repo


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factories hash a password per user; the production hasher makes that the slowest step."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate-limit windows live in the cache (Redis in CI); each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Notification emails are Celery tasks; run them where they are queued so tests see them."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def model(alice):
    """alice/model: a public repo with a text file, a README and a small binary."""
    repo = make_repo(alice, "model")
    commit_files(
        repo,
        {"README.md": b"# Model\n", "config.json": b'{"hidden": 8}\n', "notes.txt": b"one\ntwo\nthree\n"},
        author=alice,
        summary="Initial files",
    )
    return repo
