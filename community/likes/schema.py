"""OpenAPI shapes of the like routes (community.likes.api), for the schema only."""

from __future__ import annotations

from rest_framework import serializers


class LikeStateSerializer(serializers.Serializer):
    liked = serializers.BooleanField(help_text="Whether the caller likes the repo now.")
    likes = serializers.IntegerField(help_text="The repo's like count.")


class LikerSerializer(serializers.Serializer):
    user = serializers.CharField(help_text="A user name.")
    fullname = serializers.CharField()
    avatarUrl = serializers.CharField(allow_null=True)
    type = serializers.ChoiceField(choices=["user"])
    isPro = serializers.BooleanField()


class LikedRepoSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="namespace/name")
    type = serializers.ChoiceField(choices=["model", "dataset"])


class LikeSerializer(serializers.Serializer):
    createdAt = serializers.DateTimeField()
    repo = LikedRepoSerializer()
