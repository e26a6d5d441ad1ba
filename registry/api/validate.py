"""POST /api/validate-yaml: the model-card metadata check the client runs before committing a README.

The client calls `response.json()` before looking at the status, so every answer is JSON, whatever
the Accept header says (`ModelCard.validate`, run by `push_to_hub`, sends `Accept: text/plain`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from core import bodies, edge
from core.api import AllowAnyone
from registry.api import schema
from registry.cards.metadata_validation import validate_card_text


class _AlwaysJSON(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ValidateYamlView(APIView):
    permission_classes = [AllowAnyone]
    content_negotiation_class = _AlwaysJSON
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
        errors, warnings = validate_card_text(content, repo_type=repo_type)
        body = {"errors": [{"message": m} for m in errors], "warnings": [{"message": m} for m in warnings]}
        return Response(body, status=400 if errors else 200)
