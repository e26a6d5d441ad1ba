"""OpenAPI shapes of the Xet token routes (xet.views), for the schema only."""

from __future__ import annotations

from rest_framework import serializers


class XetTokenSerializer(serializers.Serializer):
    """Also sent as X-Xet-Cas-Url, X-Xet-Access-Token and X-Xet-Token-Expiration."""

    accessToken = serializers.CharField()
    exp = serializers.IntegerField(help_text="Expiry, Unix seconds.")
    casUrl = serializers.CharField()
