"""Tiny public endpoints the Hub client calls implicitly."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.errors import HubError, NotFound
from core.http import error_response, is_hub_route


@require_http_methods(["GET", "HEAD"])
def agent_harnesses(request):
    """Called once per client process; an empty registry stops the client from asking again."""
    return JsonResponse({"standardEnvVars": [], "harnesses": {}})


@require_http_methods(["GET", "HEAD", "POST"])
def telemetry(request, topic=""):
    """Libraries ping this; Gatehouse keeps nothing."""
    return HttpResponse(status=200)


def render_error(request, exc: HubError):
    """HTML error pages; like the API, they name the error in X-Error-Code. Pages answer 404 (not
    401) to anonymous visitors of missing or private repos, exactly as to signed-in strangers."""
    template = "errors/404.html" if exc.status in (401, 404) else "errors/error.html"
    response = render(request, template, {"error": exc}, status=404 if exc.status == 401 else exc.status)
    response["X-Error-Code"] = exc.code
    return response


def not_found(request, exception=None):
    """JSON with X-Error-* headers on Hub routes (the client parses every body), HTML for people."""
    if is_hub_route(request.path):
        return error_response(NotFound())
    return render(request, "errors/404.html", status=404)


def server_error(request):
    return error_response(HubError("Internal server error", status=500, code="InternalError"))
