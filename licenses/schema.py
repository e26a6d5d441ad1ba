"""OpenAPI shapes of the native license routes (licenses.api), for the schema only.

The JSON is built by licenses.serializers and the bodies are parsed by the views; these
serializers describe both so that the schema documents the routes and can drive clients and
fuzzing. Nothing validates with them.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from licenses.models import AcknowledgmentSource


class CatalogueItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The Hub's license id, e.g. openrail++.")
    name = serializers.CharField()
    family = serializers.CharField()
    kind = serializers.CharField()
    link = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True)
    hasUseRestrictions = serializers.BooleanField()
    restrictionGroup = serializers.CharField(allow_null=True)
    requiresAcknowledgment = serializers.BooleanField()
    url = serializers.CharField()


class CatalogueEntrySerializer(CatalogueItemSerializer):
    text = serializers.CharField(allow_null=True, help_text="The packaged text, where one exists.")
    textSource = serializers.CharField(allow_null=True)


class RevisionLicenseSerializer(serializers.Serializer):
    repo = serializers.CharField()
    revision = serializers.CharField(help_text="The commit whose license is in force.")
    license = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    licenseName = serializers.CharField(allow_null=True)
    licenseLink = serializers.CharField(allow_null=True)
    summary = serializers.CharField(allow_null=True)
    hasUseRestrictions = serializers.BooleanField()
    requiresAcknowledgment = serializers.BooleanField()
    acknowledged = serializers.BooleanField(allow_null=True, help_text="null for anonymous callers.")
    version = serializers.CharField(help_text="sha256 of the text shown; what /license/accept takes.")
    location = serializers.CharField()
    hasFullText = serializers.BooleanField()
    textWithheld = serializers.BooleanField()
    contributedRevision = serializers.BooleanField()
    text = serializers.CharField(allow_blank=True)
    acceptUrl = serializers.CharField()


REVISION_PARAMETERS = [
    OpenApiParameter("revision", str, description="Branch, tag or commit; default branch if absent.")
]
EXPORT_PARAMETERS = [OpenApiParameter("export", str, enum=["csv"], description="csv: a CSV file instead of JSON.")]


class AcceptSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The version read from GET .../license.")
    revision = serializers.CharField(required=False, allow_null=True)


class AcknowledgmentSerializer(serializers.Serializer):
    user = serializers.CharField()
    fullname = serializers.CharField(allow_blank=True)
    repo = serializers.CharField()
    license = serializers.CharField()
    licenseName = serializers.CharField(allow_null=True)
    version = serializers.CharField()
    revision = serializers.CharField()
    location = serializers.CharField()
    source = serializers.ChoiceField(choices=AcknowledgmentSource.choices)
    acceptedAt = serializers.DateTimeField()
    inForce = serializers.BooleanField()


class LicenseSettingsSerializer(serializers.Serializer):
    requireAcknowledgment = serializers.BooleanField()


class DerivativeSerializer(serializers.Serializer):
    id = serializers.CharField()
    license = serializers.CharField(allow_null=True)
    licenseName = serializers.CharField(allow_null=True)
    carriesRestrictions = serializers.BooleanField()
    lastModified = serializers.DateTimeField()
