"""OpenAPI description of Gatehouse's bearer tokens (loaded by AccountsConfig.ready)."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal access token (gth_...)."}


class BasicTokenScheme(OpenApiAuthenticationExtension):
    """The Git LFS routes: git-lfs sends the token as the password of HTTP Basic (any user name)."""

    target_class = "accounts.auth.BasicOrBearerTokenAuthentication"
    name = "basicToken"

    def get_security_definition(self, auto_schema):
        description = "Any user name and a token (gth_...) as the password; `Authorization: Bearer` works too."
        return {"type": "http", "scheme": "basic", "description": description}


class GatehouseSessionScheme(SessionScheme):
    """The portal's session cookie (core.bodies.SessionAuthentication: DRF's, with a CSRF check
    that reads at most 64 KiB of a body)."""

    target_class = "core.bodies.SessionAuthentication"


class WhoAmIOrgSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["org"])
    id = serializers.CharField()
    name = serializers.CharField()
    fullname = serializers.CharField()
    roleInOrg = serializers.CharField()


class FineGrainedEntitySerializer(serializers.Serializer):
    _id = serializers.CharField()
    type = serializers.ChoiceField(choices=["user", "org", "model", "dataset", "space"])
    name = serializers.CharField()


class FineGrainedScopeSerializer(serializers.Serializer):
    entity = FineGrainedEntitySerializer()
    permissions = serializers.ListField(child=serializers.CharField())


class FineGrainedSerializer(serializers.Serializer):
    scoped = FineGrainedScopeSerializer(many=True)
    canReadGatedRepos = serializers.BooleanField()

    def get_fields(self):
        fields = super().get_fields()
        fields["global"] = serializers.ListField(child=serializers.CharField())  # a Python keyword
        return fields


class AccessTokenInfoSerializer(serializers.Serializer):
    displayName = serializers.CharField()
    role = serializers.ChoiceField(choices=["read", "write", "fineGrained"])
    createdAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField(required=False)
    fineGrained = FineGrainedSerializer(required=False)


class RevokeLeakedSerializer(serializers.Serializer):
    """The leaked-token report: any of these shapes (accounts.api._reported)."""

    credential = serializers.CharField(required=False)
    token = serializers.CharField(required=False)
    credentials = serializers.ListField(child=serializers.CharField(), required=False)


class WhoAmIAuthSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["session", "access_token"])
    accessToken = AccessTokenInfoSerializer(required=False)


class WhoAmISerializer(serializers.Serializer):
    """GET /api/whoami-v2, as the Hub client reads it (for the schema only; accounts.api builds it)."""

    type = serializers.ChoiceField(choices=["user"])
    id = serializers.CharField()
    name = serializers.CharField()
    fullname = serializers.CharField()
    email = serializers.EmailField(allow_null=True)
    emailVerified = serializers.BooleanField()
    isPro = serializers.BooleanField()
    canPay = serializers.BooleanField()
    avatarUrl = serializers.CharField(allow_null=True)
    periodEnd = serializers.DateTimeField(allow_null=True)
    orgs = WhoAmIOrgSerializer(many=True)
    auth = WhoAmIAuthSerializer()
