import errno
import hashlib
import logging
import re
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin

from core import logctx, ratelimit
from core.errors import CACHE_UNAVAILABLE, BadRequest, InsufficientStorage, RateLimited, ServiceUnavailable
from core.http import client_ip, error_response, is_hub_route, json_error

logger = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:=-]{1,128}$")

# Portal pages run no third-party code: everything is served by the app itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


class RequestIdMiddleware:
    """Echo the client's trace id (the Hub client sends X-Amzn-Trace-Id) as X-Request-Id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        candidate = request.headers.get("X-Request-Id") or request.headers.get("X-Amzn-Trace-Id") or ""
        request.request_id = candidate if _REQUEST_ID.match(candidate) else uuid.uuid4().hex
        # Every log line of the request carries it, those Django writes after the middleware chain
        # (django.request's 4xx/5xx lines) and those of a streamed body included: cleared when the
        # response is closed (core.logctx.end_request), not when this returns.
        logctx.request_id.set(request.request_id)
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class RejectControlCharactersMiddleware:
    """A 400 for NUL and other control characters anywhere in the path or query.

    SECURITY: no name, path, revision or search term legitimately contains them, and PostgreSQL
    refuses NUL in text, so letting one reach a query would turn bad input into a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        candidates = [request.path, *request.GET.keys(), *(v for vs in request.GET.lists() for v in vs[1])]
        if any(_CONTROL.search(value) for value in candidates):
            return error_response(BadRequest("Control characters are not allowed in URLs."))
        return self.get_response(request)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Which of the Hub's rate-limit policies a path falls under: file downloads ("resolvers") and the
# rest of the API ("api"). Git, LFS and Xet transfers, and portal pages, are not limited here.
_RESOLVER_PATH = re.compile(r"^/(?:datasets/)?[^/]+/[^/]+/resolve/")


def _rate_policy(path: str) -> str | None:
    if path.startswith("/api/"):
        return "api"
    if _RESOLVER_PATH.match(path):
        return "resolvers"
    return None


class RateLimitMiddleware:
    """Requests to the API and downloads per token and per address, in fixed windows of
    GATEHOUSE_RATELIMIT_WINDOW_SECONDS (`GATEHOUSE_RATELIMIT_{API,RESOLVERS}_PER_{TOKEN,IP}`; 0:
    no limit). Every request counts against its address; one that carries a bearer token counts
    against the token too (keyed by the token's hash, before it is checked: a made-up token
    still spends its address's budget). Every answer carries the Hub's `RateLimit` headers for the
    tighter of the two; over either, 429 `RateLimited`, which huggingface_hub raises with the wait.

    A cache that cannot be reached does not stop downloads: the request goes on unlimited."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        policy = _rate_policy(request.path)
        if policy is None:
            return self.get_response(request)
        try:
            tightest = self._charge(request, policy)
        except RateLimited as exc:
            return error_response(exc)
        except CACHE_UNAVAILABLE:
            logger.warning("rate limits skipped: the cache is unavailable")
            tightest = None
        response = self.get_response(request)
        # A view's own limit that refused the request (posts, previews, uploads) names itself.
        if tightest is not None and "RateLimit" not in response:
            for name, value in tightest.items():
                response[name] = value
        return response

    def _charge(self, request, policy: str) -> dict[str, str] | None:
        upper = policy.upper()
        budgets = [(f"{policy}-ip", client_ip(request), getattr(settings, f"GATEHOUSE_RATELIMIT_{upper}_PER_IP"))]
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        if authorization[:7].lower() == "bearer ":
            digest = hashlib.sha256(authorization[7:].strip().encode("utf-8", "surrogatepass")).hexdigest()[:32]
            budgets.append((f"{policy}-token", digest, getattr(settings, f"GATEHOUSE_RATELIMIT_{upper}_PER_TOKEN")))
        budgets = [budget for budget in budgets if budget[2] > 0]
        return ratelimit.charge_requests(
            policy=policy, budgets=budgets, window=settings.GATEHOUSE_RATELIMIT_WINDOW_SECONDS
        )


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class CallerCacheMiddleware(MiddlewareMixin):
    """`Cache-Control: private` on answers to callers who identified themselves, unless the view
    chose its own; `private, no-store` on attachments (exports) that did not; and `Vary` on the
    caller's credentials everywhere.

    SECURITY: what a signed-in caller sees may be theirs alone (a private repo, their account, a
    review queue), and a shared cache must neither keep it nor hand it to the next caller. It sits
    after WhiteNoise, so static files (the same for everyone) keep their long-lived caching.
    """

    def process_response(self, request, response):
        patch_vary_headers(response, ("Authorization", "Cookie"))
        if response.has_header("Cache-Control"):
            return response
        if response.get("Content-Disposition", "").startswith("attachment"):
            response["Cache-Control"] = "private, no-store"
        elif _carries_credentials(request):
            response["Cache-Control"] = "private"
        return response


def _carries_credentials(request) -> bool:
    if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class HubMethodNotAllowedMiddleware(MiddlewareMixin):
    """Hub routes answer a method they do not take as the client expects every error: JSON with
    X-Error-Code and X-Error-Message (Django's own 405 is an empty HTML page). DRF views already do."""

    def process_response(self, request, response):
        if response.status_code != 405 or response.has_header("X-Error-Code") or not is_hub_route(request.path):
            return response
        hub = json_error(405, "MethodNotAllowed", f'Method "{request.method}" not allowed.')
        if response.has_header("Allow"):
            hub["Allow"] = response["Allow"]
        return hub


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A request that meets a database it cannot reach (a restart, a failover, a full connection
    table) or a transient conflict it lost (deadlock, serialization), or a cache (Redis) that is
    restarting, gets 503 with Retry-After, which clients retry, instead of a 500, which they
    report. Django drops the broken connection at the end of the request, and the next request
    connects again: no process needs a restart."""

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError, *CACHE_UNAVAILABLE)):
            return None
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        return error_response(ServiceUnavailable(headers={"Retry-After": "5"}))


class StorageFullMiddleware(MiddlewareMixin):
    """A write that runs out of disk (ENOSPC) or quota (EDQUOT) gets 507 and says nothing was kept:
    blob writers remove their temporary file when a write fails (registry.storage), and nothing is
    committed before its content is stored."""

    def process_exception(self, request, exception):
        if not isinstance(exception, OSError) or exception.errno not in (errno.ENOSPC, errno.EDQUOT):
            return None
        logger.error("storage full for %s %s: %s", request.method, request.path, exception)
        return error_response(InsufficientStorage(headers={"Retry-After": "60"}))
