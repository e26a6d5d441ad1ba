"""Personal access token format: `gth_<public id><secret><checksum>`.

- The prefix makes leaked tokens easy to grep for; the trailing CRC32 lets a scanner tell a real
  token from random text without asking the database.
- Only a SHA-256 of the whole token is stored; the public id finds the row, and the digest is
  compared in constant time. Tokens carry 190 bits of randomness, so a plain hash suffices.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass

PREFIX = "gth_"
ALPHABET = string.ascii_letters + string.digits
PUBLIC_ID_LEN = 12
SECRET_LEN = 32
CHECKSUM_LEN = 6
TOKEN_LEN = len(PREFIX) + PUBLIC_ID_LEN + SECRET_LEN + CHECKSUM_LEN


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LEN)


@dataclass(frozen=True)
class NewToken:
    plaintext: str
    public_id: str
    digest: str


def generate() -> NewToken:
    public_id = "".join(secrets.choice(ALPHABET) for _ in range(PUBLIC_ID_LEN))
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LEN))
    body = PREFIX + public_id + secret
    plaintext = body + _checksum(body)
    return NewToken(plaintext=plaintext, public_id=public_id, digest=digest(plaintext))


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_public_id(candidate: str) -> str | None:
    """The public id of a well-formed token, or None. Rejects malformed input without a query."""
    if len(candidate) != TOKEN_LEN or not candidate.startswith(PREFIX):
        return None
    if any(ch not in ALPHABET for ch in candidate[len(PREFIX) :]):
        return None
    body, checksum = candidate[:-CHECKSUM_LEN], candidate[-CHECKSUM_LEN:]
    if not secrets.compare_digest(_checksum(body), checksum):
        return None
    return candidate[len(PREFIX) : len(PREFIX) + PUBLIC_ID_LEN]


def looks_like_token(text: str) -> bool:
    """For leak scanners: a syntactically valid token with a correct checksum."""
    return parse_public_id(text) is not None
