"""OpenAPI shapes of /api/mirror/upstreams (for the schema only; mirror.api builds the bodies)."""

from rest_framework import serializers


class UpstreamSerializer(serializers.Serializer):
    name = serializers.CharField()
    endpoint = serializers.CharField()
    namespaces = serializers.ListField(child=serializers.CharField())
    hasToken = serializers.BooleanField(help_text="Whether the caller stored a token of their own for it.")


class UpstreamTokenRequestSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The caller's own token for the upstream; checked there, never shown again."
    )


class UpstreamTokenSerializer(serializers.Serializer):
    upstream = serializers.CharField()
    upstreamUser = serializers.CharField(required=False, help_text="Who the upstream says the token belongs to.")
    hasToken = serializers.BooleanField()
