"""OpenAPI shapes of /api/settings/webhooks (for the schema only; webhooks.api builds the bodies)."""

from rest_framework import serializers


class WatchedItemSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["model", "dataset", "user", "org"])
    name = serializers.CharField(max_length=200)


class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    job = serializers.JSONField(allow_null=True, help_text="Always null: Gatehouse runs no Jobs.")
    watched = WatchedItemSerializer(many=True)
    domains = serializers.ListField(child=serializers.ChoiceField(choices=["repo", "discussion"]))
    secret = serializers.CharField(allow_null=True)
    disabled = serializers.BooleanField()


class WebhookEnvelopeSerializer(serializers.Serializer):
    webhook = WebhookSerializer()


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    watched = WatchedItemSerializer(many=True)
    domains = serializers.ListField(child=serializers.ChoiceField(choices=["repo", "discussion"]), required=False)
    secret = serializers.CharField(max_length=256, required=False)


class WebhookUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, required=False)
    watched = WatchedItemSerializer(many=True, required=False, help_text="[] keeps the current list.")
    domains = serializers.ListField(child=serializers.ChoiceField(choices=["repo", "discussion"]), required=False)
    secret = serializers.CharField(max_length=256, required=False)


class WebhookDeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
