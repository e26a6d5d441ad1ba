"""OpenAPI shapes of the access-request routes (gating.api), for the schema only.

The views parse their bodies by hand (their errors name the field, as the Hub's do); these
serializers describe what they accept and what `gating.selectors.request_item` returns, so that
the schema documents the routes and can drive clients and fuzzing. Nothing validates with them.
"""

from __future__ import annotations

from rest_framework import serializers

from gating.models import RequestStatus


class RequesterSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="The requester's user name.")
    fullname = serializers.CharField()
    email = serializers.EmailField(allow_null=True)


class AccessRequestSerializer(serializers.Serializer):
    """One access request, as the Hub client's `AccessRequest` reads it, plus Gatehouse's extras."""

    user = RequesterSerializer()
    requestId = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    timestamp = serializers.DateTimeField(help_text="When the request was made (UTC, Z suffix).")
    fields = serializers.DictField(help_text="The requester's answers, keyed by field label.")
    decidedAt = serializers.DateTimeField(required=False)
    expiresAt = serializers.DateTimeField(required=False, help_text="Gatehouse: end of a time-limited access.")
    expired = serializers.BooleanField(required=False)
    rejectionReason = serializers.CharField(required=False)


class AccessRequestHandleSerializer(serializers.Serializer):
    """Name the request by `user` or by `requestId`."""

    user = serializers.CharField(required=False)
    requestId = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=RequestStatus.choices, help_text="'pending' is the Hub's cancel.")
    rejectionReason = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    expiresAt = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Gatehouse: ISO 8601 with a time zone, for 'accepted' only."
    )


class AccessGrantSerializer(serializers.Serializer):
    user = serializers.CharField()
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)


class AccessResetSerializer(serializers.Serializer):
    user = serializers.CharField()


class AccessResetResultSerializer(serializers.Serializer):
    reset = serializers.BooleanField()
