"""Signed URLs are credentials: their `sig=` values never reach a log, nor do the secrets of
account links (password reset, email verification, invitations).

SECURITY: `/cas/fetch/...?sig=` (a Xet read grant) and `/lfs/objects/...?sig=` (an upload grant)
authorize whoever holds the URL until it expires, with no other credential. Access logs are read
by more people and kept longer than the grants live, so every logger that may print a request
line (gunicorn's access and error logs, Django's `django.server` and the root handler) replaces
the value with `[redacted]`. Plain Python, no Django: gunicorn loads it before Django starts.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as _GunicornLogger

REDACTED = "[redacted]"
# `sig=` as a query parameter, also percent-encoded (a signed URL inside another URL's query).
_SIGNATURE = re.compile(r"((?:[?&;]|%3[fF]|%26)sig(?:=|%3[dD]))[^&;\s\"'#]*")


# Account links carry their secret in the path or the query: a password reset, an email
# verification, an organisation or sign-up invitation (found by an outsider attack: reset tokens
# sat in the access log for their hour of life).
_ACCOUNT_LINK = re.compile(
    r"(/password-reset/[^/\s?\"']+/|/verify-email/|/organizations/invitations/|[?&]invite=)"
    r"(?!sent\b|done\b)[^/\s?&#\"']+"
)


def redact_signatures(text: str) -> str:
    if "sig" in text:
        text = _SIGNATURE.sub(lambda match: match.group(1) + REDACTED, text)
    if "/password-reset/" in text or "/verify-email/" in text or "/invitations/" in text or "invite=" in text:
        text = _ACCOUNT_LINK.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSignatures(logging.Filter):
    """Rewrites a record's message with signatures redacted; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's business, not ours
            return True
        redacted = redact_signatures(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with signatures redacted from every access-log field (the request line,
    the query string, the referer, any header or environ value a custom format names) and from
    its error log."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.addFilter(RedactSignatures())

    def atoms(self, resp, req, environ, request_time) -> dict:
        found = super().atoms(resp, req, environ, request_time)
        return {key: redact_signatures(value) if isinstance(value, str) else value for key, value in found.items()}
