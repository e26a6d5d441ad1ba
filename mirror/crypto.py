"""Encryption of users' upstream tokens, with keys of their own (never SECRET_KEY).

cryptography's `MultiFernet` (AES-128-CBC + HMAC-SHA256, authenticated, versioned): the first key
of GATEHOUSE_UPSTREAM_TOKEN_KEYS encrypts, every key decrypts, so rotation is: put a new key
first, run `manage.py mirror_rotate_tokens` (re-encrypts every token under it), then drop the old
key.

Unset, the embedded default (`make run`: SQLite, one host) generates a key into
var/upstream_token_keys (mode 0600 from its creation, linked into place atomically) on first use.
Anywhere else a key generated per host would encrypt tokens no other host can read, so there an
unset key is a configuration error: `mirror.E003` at `manage.py check` (and `check --deploy`),
and here a 503 naming the setting (the operator's error, not the user's) rather than a key of this
host's own.
"""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from core.errors import HubError

KEY_FILE_NAME = "upstream_token_keys"


def is_configured() -> bool:
    return any(key for key in settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS)


def may_generate_key() -> bool:
    """Whether a key may be generated into the var dir: only the embedded default's single-host
    SQLite database, which no other host shares (PostgreSQL means a deployment that can span hosts)."""
    from django.db import connections

    return connections["default"].vendor == "sqlite"


def _generated_key() -> str:
    path = settings.VAR_DIR / KEY_FILE_NAME
    if not path.exists():
        tmp = settings.VAR_DIR / f"{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        # SECURITY: created 0600 (never readable by others, not even between a write and a chmod),
        # written and synced whole, then linked into place: a reader never sees a partial key, and
        # a key another process made first is never replaced.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _fernet() -> MultiFernet:
    keys = [key for key in settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS if key]
    if not keys:
        if not may_generate_key():
            raise HubError(
                "Upstream tokens cannot be stored or read: the operator has not set GATEHOUSE_UPSTREAM_TOKEN_KEYS"
                " (the same on every host).",
                status=503,
                code="MirrorNotConfigured",
            )
        keys = [_generated_key()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt(ciphertext: str) -> str | None:
    """The token, or None when no configured key opens it (a key dropped too early)."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def rotate(ciphertext: str) -> str:
    return _fernet().rotate(ciphertext.encode()).decode()
