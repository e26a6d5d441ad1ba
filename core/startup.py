"""What `make run` prints at start: which optional parts are on, and how to turn each on.

The one place that knows the switches (`manage.py optional_parts` prints it; the Makefile's run
target calls that before it starts the processes). It reads settings and files only: no app
imports, so it stays cheap and cannot fail on a half-configured part."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

CONSOLE_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


@dataclass(frozen=True)
class Part:
    name: str
    is_on: bool
    detail: str  # what it is when on; how to turn it on when off


def _previews() -> Part:
    path = settings.GATEHOUSE_SAFETY_CHECKER_PATH
    if not path:
        return Part(
            "previews",
            False,
            "install a safety checker: .venv/bin/python manage.py install_safety_checker --revision <commit id> "
            "(CompVis/stable-diffusion-safety-checker from https://huggingface.co by default; --endpoint and --repo "
            "for another hub), then restart",
        )
    try:
        record = json.loads((Path(path) / "installed.json").read_text())
        origin = (
            f"{record['repo']}@{record['revision'][:12]} from {record['endpoint']}, installed {record['installed_at']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        origin = "installed by hand (no installed.json)"
    return Part("previews", True, f"safety checker {path} ({origin})")


def _object_storage() -> Part:
    url = settings.GATEHOUSE_STORAGE_URL
    if url:
        return Part("object storage", True, url)
    return Part(
        "object storage",
        False,
        f"blobs on local disk at {settings.GATEHOUSE_STORAGE_ROOT}; set GATEHOUSE_STORAGE_URL=s3://bucket/prefix "
        "(and the AWS_* variables) for an S3-compatible store",
    )


def _email() -> Part:
    backend = getattr(settings, "EMAIL_BACKEND", "")
    if backend and backend not in CONSOLE_BACKENDS:
        host = getattr(settings, "EMAIL_HOST", "")
        return Part("email", True, f"{backend.rsplit('.', 2)[-2]}{' via ' + host if host else ''}")
    return Part("email", False, "mail is printed to the console; set EMAIL_URL=smtp+tls://user:password@host:587")


def _sso() -> Part:
    issuer = getattr(settings, "GATEHOUSE_OIDC_ISSUER", "")
    if issuer and getattr(settings, "GATEHOUSE_OIDC_CLIENT_ID", ""):
        return Part("single sign-on", True, f"OpenID Connect with {issuer}")
    return Part(
        "single sign-on",
        False,
        "set GATEHOUSE_OIDC_ISSUER, GATEHOUSE_OIDC_CLIENT_ID and GATEHOUSE_OIDC_CLIENT_SECRET",
    )


def optional_parts() -> list[Part]:
    return [_previews(), _object_storage(), _email(), _sso()]


def report() -> str:
    lines = ["Optional parts (set variables in the environment or in .env):"]
    for part in optional_parts():
        state = "on " if part.is_on else "off"
        lines.append(f"  {part.name:<15} {state}  {part.detail}")
    return "\n".join(lines)
