import re
import uuid

from django.utils.deprecation import MiddlewareMixin

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
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
