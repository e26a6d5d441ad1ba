"""OpenAPI shapes of the preview API (workers.api), for the schema only.

The JSON is built by workers.serializers and the bodies are checked by the services (the
runner's `validate_params` refuses unknown fields); these serializers describe both so that
the schema documents the routes and can drive clients and fuzzing. Nothing validates with them.
"""

from __future__ import annotations

from rest_framework import serializers

from workers.models import JobStatus, SafetyPreset, SafetyStage


class PreviewCreateSerializer(serializers.Serializer):
    """Bounds (sizes, steps, guidance, prompt length) are the operator's, so the server says them in its 400s."""

    prompt = serializers.CharField()
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    seed = serializers.IntegerField(required=False, min_value=0)
    num_inference_steps = serializers.IntegerField(required=False, min_value=1)
    guidance_scale = serializers.FloatField(required=False)
    width = serializers.IntegerField(required=False, min_value=1)
    height = serializers.IntegerField(required=False, min_value=1)
    revision = serializers.CharField(required=False, help_text="Branch, tag or commit; the default branch if absent.")


class PreviewParamsSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    negative_prompt = serializers.CharField(allow_blank=True)
    seed = serializers.IntegerField()
    num_inference_steps = serializers.IntegerField()
    guidance_scale = serializers.FloatField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class BlockedSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=SafetyStage.choices)
    category = serializers.CharField(allow_blank=True)
    message = serializers.CharField(required=False, help_text="Previews only.")


class PreviewSafetySerializer(serializers.Serializer):
    sld_preset = serializers.ChoiceField(choices=SafetyPreset.choices)
    blocked = BlockedSerializer(allow_null=True)


class ProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    total = serializers.IntegerField()


class PreviewSerializer(serializers.Serializer):
    id = serializers.CharField()
    repo = serializers.CharField()
    revision = serializers.CharField()
    commit = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    reused = serializers.BooleanField(help_text="An identical earlier job's result is shown.")
    params = PreviewParamsSerializer()
    safety = PreviewSafetySerializer()
    progress = ProgressSerializer()
    error = serializers.CharField(allow_null=True)
    imageUrl = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    finishedAt = serializers.DateTimeField(allow_null=True)
    timings = serializers.DictField(child=serializers.FloatField())
    url = serializers.CharField()
    apiUrl = serializers.CharField()


class VerdictSerializer(serializers.Serializer):
    job = serializers.CharField()
    attempt = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=SafetyStage.choices)
    outcome = serializers.CharField()
    category = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)
    prompt = serializers.CharField(allow_null=True)
    requester = serializers.CharField(allow_null=True)
    kind = serializers.CharField()
    createdAt = serializers.DateTimeField()


class PreviewSettingsSerializer(serializers.Serializer):
    """PUT takes any subset; unknown keys are refused."""

    enabled = serializers.BooleanField(required=False)
    sld_preset = serializers.ChoiceField(choices=SafetyPreset.choices, required=False)
    extra_blocked_concepts = serializers.CharField(required=False, allow_blank=True, help_text="Comma-separated.")
    bias_professions = serializers.CharField(required=False, allow_blank=True, help_text="Comma-separated.")
    bias_adjectives = serializers.CharField(required=False, allow_blank=True, help_text="Comma-separated.")


class BiasReportCreateSerializer(serializers.Serializer):
    revision = serializers.CharField(required=False)
    professions = serializers.CharField(required=False, help_text="Comma-separated; the settings' list if absent.")
    adjectives = serializers.CharField(required=False, help_text="Comma-separated; the settings' list if absent.")
    seeds = serializers.IntegerField(required=False, default=4, min_value=1)
    num_inference_steps = serializers.IntegerField(required=False, min_value=1)
    side = serializers.IntegerField(required=False, min_value=1)


class BiasCellSerializer(serializers.Serializer):
    profession = serializers.CharField()
    adjective = serializers.CharField(allow_blank=True)
    seed = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    blocked = BlockedSerializer(allow_null=True)
    imageUrl = serializers.CharField(allow_null=True)


class BiasReportSerializer(serializers.Serializer):
    id = serializers.CharField()
    repo = serializers.CharField()
    revision = serializers.CharField()
    commit = serializers.CharField()
    published = serializers.BooleanField()
    config = serializers.DictField()
    createdAt = serializers.DateTimeField()
    url = serializers.CharField()
    cells = BiasCellSerializer(many=True, required=False, help_text="A single report only.")
    done = serializers.IntegerField(required=False, help_text="Cells finished, a single report only.")
