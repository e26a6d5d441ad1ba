"""Typed errors that map one-to-one onto the Hub's HTTP error contract.

The `huggingface_hub` client picks its exception class from the `X-Error-Code` header
(RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound), so every error names its code.
"""

from __future__ import annotations

import redis

# Raised by the cache (Redis, in production) while it restarts or hangs: the request is answered
# 503 with Retry-After, as for a database that cannot be reached (core.middleware), never 500.
CACHE_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ResponseCutShort(Exception):
    """Raised by a streamed body after its headers went, to end the response short of its
    Content-Length on purpose (a mirrored download whose fetch failed): the server logs it as one
    warning line (core.gunicorn_worker), not an error with a traceback."""


class HubError(Exception):
    status: int = 400
    code: str = "BadRequest"
    default_message: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict | None = None,
        extra=None,
    ):
        self.message = message or self.default_message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        # Additional body fields some clients read from errors (e.g. `url` on a create conflict).
        self.extra = dict(extra or {})
        super().__init__(self.message)


class BadRequest(HubError):
    pass


class InvalidCredentials(HubError):
    status = 401
    code = "InvalidCredentials"
    # The client recognises this exact text and does not turn the 401 into RepositoryNotFoundError.
    default_message = "Invalid credentials in Authorization header"


class AuthenticationRequired(HubError):
    status = 401
    code = "AuthenticationRequired"
    default_message = "You must be authenticated to access this resource."


class Forbidden(HubError):
    status = 403
    code = "Forbidden"
    default_message = "You don't have the rights to perform this action."


class EmailNotVerified(Forbidden):
    """A new account acts before verifying its email (gating.policy.check_verified)."""

    code = "EmailNotVerified"
    default_message = (
        "Verify your email address first: follow the link we sent you, or ask for a new one on your "
        "account settings page (/settings/account)."
    )


class RepoNotFound(HubError):
    """Missing, or private to this caller: one class, one message, so the two are indistinguishable."""

    status = 404
    code = "RepoNotFound"
    default_message = "Repository not found"

    def __init__(self, *, anonymous: bool):
        # SECURITY: the Hub answers 401 to anonymous callers and 404 to signed-in ones, for missing
        # and private repos alike. Nothing about the repo itself goes into the response.
        super().__init__(status=401 if anonymous else 404)


class RepoMoved(HubError):
    """A renamed repo: views answer with a relative 307 to the same route under the new id."""

    status = 307
    code = "RepoMoved"
    default_message = "Repository moved"

    def __init__(self, *, old_id: str, new_id: str):
        self.old_id = old_id
        self.new_id = new_id
        super().__init__(f"Repository moved to {new_id}")


class GatedRepo(HubError):
    code = "GatedRepo"

    def __init__(self, message: str, *, anonymous: bool):
        super().__init__(message, status=401 if anonymous else 403)


class DisabledRepo(HubError):
    status = 403
    code = "DisabledRepo"
    # The client maps this exact message (the X-Error-Message header) to DisabledRepoError.
    default_message = "Access to this resource is disabled."

    def __init__(self, reason: str = ""):
        # The operator's reason rides in the body: `reason`, and `errors`, which the client adds
        # to the exception's message. The header's message must stay exact.
        extra = {"reason": reason, "errors": [{"message": f"Taken down by the operators: {reason}"}]} if reason else {}
        super().__init__(extra=extra)


class RevisionNotFound(HubError):
    status = 404
    code = "RevisionNotFound"

    def __init__(self, revision: str):
        super().__init__(f"Invalid rev id: {revision}")


class EntryNotFound(HubError):
    status = 404
    code = "EntryNotFound"
    default_message = "Entry not found"

    def __init__(self, message: str | None = None, *, commit_oid: str | None = None):
        headers = {"X-Repo-Commit": commit_oid} if commit_oid else None
        super().__init__(message, headers=headers)


class NotFound(HubError):
    status = 404
    code = "NotFound"
    default_message = "Not found"


class Conflict(HubError):
    status = 409
    code = "Conflict"
    default_message = "Conflict"


class ServiceUnavailable(HubError):
    status = 503
    code = "ServiceUnavailable"
    default_message = "The service is briefly unavailable; try again in a few seconds."


class InsufficientStorage(HubError):
    status = 507
    code = "InsufficientStorage"
    default_message = "The server has no room to store this; nothing was kept. Try again later."


class PreconditionFailed(HubError):
    status = 412
    code = "PreconditionFailed"
    default_message = "Precondition failed"


class RequestTimeout(HubError):
    status = 408
    code = "RequestTimeout"
    default_message = "The request body stopped arriving"


class PayloadTooLarge(HubError):
    status = 413
    code = "PayloadTooLarge"
    default_message = "Payload too large"


class RangeNotSatisfiable(HubError):
    status = 416
    code = "RangeNotSatisfiable"
    default_message = "Requested range not satisfiable"


class ContentUnavailable(HubError):
    """Stored bytes of a committed file cannot be read: answered before the first byte is sent,
    rather than a 200 that stops short."""

    status = 503
    code = "ContentUnavailable"
    default_message = "The content of this file cannot be read right now; please try again later."


class StorageUnavailable(HubError):
    """The object store did not answer within its timeouts and retries (GATEHOUSE_S3_*): nothing
    was stored or acknowledged, and the client may try again."""

    status = 503
    code = "StorageUnavailable"
    default_message = "The storage service cannot be reached right now; please try again later."
    retry_after_seconds = 10

    def __init__(self, message: str | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(self.retry_after_seconds))


def body_unreadable() -> BadRequest:
    """The client cut the connection while its body was being read (Django's UnreadablePostError):
    a 400 for the log, not a 500 with a traceback."""
    return BadRequest("The request body could not be read: the connection was cut.")


class ContentQuarantined(HubError):
    """The repo's tree names content that was never proven to belong to the repo (left by an
    older Gatehouse that let a commit alias another repo's files). Not served until the repo's
    owner uploads the file again; see `registry.ops.aliasing`."""

    status = 410
    code = "ContentQuarantined"
    default_message = (
        "This file is quarantined: its content was never proven to belong to this repo. "
        "The repo's owner can restore it by uploading the file again."
    )


class RateLimited(HubError):
    status = 429
    code = "RateLimited"
    default_message = "Too many requests"
