"""What `make run` prints at start (core.startup): each optional part, on or off, and how to turn it on."""

import json
import os
import subprocess
import sys

from core.startup import report
from tests.support.gunicorn import ROOT


def _lines(text: str) -> dict[str, str]:
    return {line[2:17].strip(): line[17:].strip() for line in text.splitlines()[1:]}


def test_everything_off_says_how_to_turn_it_on(settings):
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = ""
    settings.GATEHOUSE_STORAGE_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.GATEHOUSE_OIDC_ISSUER = ""
    parts = _lines(report())
    assert parts["previews"].startswith("off") and "manage.py install_safety_checker --revision" in parts["previews"]
    assert parts["object storage"].startswith("off") and "GATEHOUSE_STORAGE_URL=s3://" in parts["object storage"]
    assert parts["email"].startswith("off") and "EMAIL_URL=smtp" in parts["email"]
    assert parts["single sign-on"].startswith("off") and "GATEHOUSE_OIDC_ISSUER" in parts["single sign-on"]


def test_parts_that_are_on_say_what_they_are(settings, tmp_path):
    (tmp_path / "installed.json").write_text(
        json.dumps(
            {
                "endpoint": "https://hub.example",
                "repo": "ops/checker",
                "revision": "a" * 40,
                "installed_at": "2026-12-07T20:00:00Z",
            }
        )
    )
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(tmp_path)
    settings.GATEHOUSE_STORAGE_URL = "s3://bucket/hub"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "mail.example"
    settings.GATEHOUSE_OIDC_ISSUER, settings.GATEHOUSE_OIDC_CLIENT_ID = "https://idp.example", "gatehouse"
    parts = _lines(report())
    origin = "ops/checker@aaaaaaaaaaaa from https://hub.example, installed 2026-12-07T20:00:00Z"
    assert parts["previews"] == f"on   safety checker {tmp_path} ({origin})"
    assert parts["object storage"] == "on   s3://bucket/hub"
    assert parts["email"] == "on   smtp via mail.example"
    assert parts["single sign-on"] == "on   OpenID Connect with https://idp.example"
    (tmp_path / "installed.json").unlink()
    assert "installed by hand" in _lines(report())["previews"]


def test_make_run_prints_it_before_starting(tmp_path):
    """And a checker that install_safety_checker put in var/safety-checker is the one in use
    when GATEHOUSE_SAFETY_CHECKER_PATH is unset: previews are on at the next start."""
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert run.index("manage.py optional_parts") < run.index("scripts/supervise.py")
    installed = tmp_path / "var" / "safety-checker"
    installed.mkdir(parents=True)
    record = {
        "endpoint": "http://hub",
        "repo": "ops/checker",
        "revision": "b" * 40,
        "installed_at": "2026-12-07T20:00:00Z",
    }
    (installed / "installed.json").write_text(json.dumps(record))
    env = {**os.environ, "GATEHOUSE_VAR_DIR": str(tmp_path / "var")}
    env.pop("GATEHOUSE_SAFETY_CHECKER_PATH", None)
    command = [sys.executable, "manage.py", "optional_parts"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.startswith("Optional parts") and len(out.splitlines()) == 5
    assert _lines(out)["previews"].startswith(f"on   safety checker {installed} (ops/checker@bbbbbbbbbbbb")
