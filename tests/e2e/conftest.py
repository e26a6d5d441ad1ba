"""Browser tests drive Debian's Chromium through pytest-playwright (reference/browser-tests.md):
Playwright cannot download its own browsers here, so the launch points at the system binary."""

import shutil

import pytest

CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (run scripts/ensure-chromium)")
    return {**browser_type_launch_args, "executable_path": executable, "headless": True, "args": CHROMIUM_FLAGS}


@pytest.fixture(autouse=True)
def _browser_test_settings(settings):
    """Pages render without a collectstatic manifest; test users need no slow password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
