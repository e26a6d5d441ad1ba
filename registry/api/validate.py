"""POST /api/validate-yaml: the model-card metadata check the client runs before committing a README.

`HfApi.create_commit` calls `response.json()` before looking at the status: its answer is JSON.
`ModelCard.validate` (run by `push_to_hub`) sends `Accept: text/plain` and raises
`ValueError(response.text)` on a 400: it gets the Hub's plain text, one message a line."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from core import bodies, edge
from core.api import AllowAnyone
from registry.api import schema
from registry.cards.metadata_validation import validate_card_text


class _JSONUnlessPlainText(DefaultContentNegotiation):
    """JSON for every Accept header but one that asks for text/plain and not JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _wants_plain_text(request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/plain" in accept and "application/json" not in accept


class ValidateYamlView(APIView):
    permission_classes = [AllowAnyone]
    content_negotiation_class = _JSONUnlessPlainText
    body_policy = bodies.LARGE  # a whole README

    @extend_schema(
        request=schema.ValidateYamlSerializer,
        responses={200: schema.ValidateYamlResultSerializer, 400: schema.VALIDATE_YAML_REFUSAL},
    )
    def post(self, request):
        data = edge.json_object(request)
        content = data.get("content")
        repo_type = data.get("repoType") or "model"
        if not isinstance(content, str):
            return Response({"errors": [{"message": "'content' must be the README.md text."}], "warnings": []}, 400)
        if not isinstance(repo_type, str):
            repo_type = "model"
        errors, warnings = validate_card_text(content, repo_type=repo_type)
        status = 400 if errors else 200
        if _wants_plain_text(request):
            text = "\n".join(errors or warnings)
            return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
        body = {"errors": [{"message": m} for m in errors], "warnings": [{"message": m} for m in warnings]}
        return Response(body, status=status)
