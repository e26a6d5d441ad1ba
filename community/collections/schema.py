"""OpenAPI shapes of the collection routes (community.collections.api), for the schema only: the
JSON is built by community.collections.serializers and the bodies are parsed by the views."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from community.collections.selectors import SORTS
from community.models import CollectionTheme


class CollectionOwnerSerializer(serializers.Serializer):
    _id = serializers.CharField()
    name = serializers.CharField()
    fullname = serializers.CharField()
    type = serializers.ChoiceField(choices=["user", "org"])
    avatarUrl = serializers.CharField(allow_null=True)


class CollectionNoteSerializer(serializers.Serializer):
    text = serializers.CharField()
    html = serializers.CharField()


class CollectionItemSerializer(serializers.Serializer):
    _id = serializers.CharField(help_text="The item's own id (item_object_id).")
    id = serializers.CharField(help_text="A repo id, or a collection's id.")
    type = serializers.ChoiceField(choices=["model", "dataset", "collection"])
    position = serializers.IntegerField(help_text="The rank among the items the caller may see.")
    note = CollectionNoteSerializer(required=False)
    slug = serializers.CharField(required=False, help_text="Collections only.")
    title = serializers.CharField(required=False, help_text="Collections only.")
    author = serializers.CharField(required=False, help_text="Repos only.")
    private = serializers.BooleanField()
    gated = serializers.JSONField(required=False, help_text="Repos only: false, 'auto' or 'manual'.")
    downloads = serializers.IntegerField(required=False)
    likes = serializers.IntegerField(required=False)
    lastModified = serializers.DateTimeField(required=False)


class CollectionSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="namespace/title-slug-<id>")
    title = serializers.CharField()
    description = serializers.CharField(required=False)
    owner = CollectionOwnerSerializer()
    items = CollectionItemSerializer(many=True, help_text="In listings, the first four only.")
    lastUpdated = serializers.DateTimeField()
    position = serializers.IntegerField(required=False, help_text="Not in listings (the client numbers them).")
    private = serializers.BooleanField()
    theme = serializers.ChoiceField(choices=CollectionTheme.choices)
    upvotes = serializers.IntegerField()
    isUpvotedByUser = serializers.BooleanField()
    gating = serializers.BooleanField()
    shareUrl = serializers.CharField()


class CollectionCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    namespace = serializers.CharField()
    description = serializers.CharField(required=False, max_length=150)
    private = serializers.BooleanField(required=False)


class CollectionUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=100)
    description = serializers.CharField(required=False, max_length=150)
    private = serializers.BooleanField(required=False)
    theme = serializers.ChoiceField(choices=CollectionTheme.choices, required=False)
    position = serializers.IntegerField(required=False, min_value=0)


class CollectionUpdatedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    data = CollectionSerializer()


class ItemRefSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="A repo id, or a collection's slug.")
    type = serializers.ChoiceField(choices=["model", "dataset", "collection", "space", "paper", "bucket"])


class CollectionItemAddSerializer(serializers.Serializer):
    item = ItemRefSerializer()
    note = serializers.CharField(required=False, max_length=500)


class CollectionItemUpdateSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, max_length=500)
    position = serializers.IntegerField(required=False, min_value=0)


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


COLLECTION_LIST_PARAMETERS = [
    OpenApiParameter("owner", str, many=True, description="A user or org name (repeatable)."),
    OpenApiParameter("item", str, many=True, description="models/ns/name, datasets/ns/name or collections/slug."),
    OpenApiParameter("sort", str, enum=sorted(SORTS)),
    OpenApiParameter("limit", int),
    OpenApiParameter("cursor", str),
]
