"""Encryption of users' upstream tokens, with keys of their own (never SECRET_KEY).

cryptography's `MultiFernet` (AES-128-CBC + HMAC-SHA256, authenticated, versioned): the first key
of GATEHOUSE_UPSTREAM_TOKEN_KEYS encrypts, every key decrypts, so rotation is: put a new key
first, run `manage.py mirror_rotate_tokens` (re-encrypts every token under it), then drop the old
key. Unset, a key is generated into var/upstream_token_keys (mode 0600) on first use.
"""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

KEY_FILE_NAME = "upstream_token_keys"


def _generated_key() -> str:
    path = settings.VAR_DIR / KEY_FILE_NAME
    if not path.exists():
        tmp = settings.VAR_DIR / f"{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(Fernet.generate_key().decode())
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _fernet() -> MultiFernet:
    keys = [key for key in settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS if key] or [_generated_key()]
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
