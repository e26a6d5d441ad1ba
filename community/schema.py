"""OpenAPI shapes of the discussion routes (community.api), for the schema only.

The JSON itself is built by community.serializers (the Hub's shapes, hub-api.md section 7) and the
bodies are parsed by the views; these serializers describe both so that the schema documents the
routes and can drive clients and fuzzing. Nothing validates with them.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from community.models import EventType, Status
from community.selectors import STATUS_FILTERS, TYPE_FILTERS


class AuthorSerializer(serializers.Serializer):
    """Absent where the author's account is gone (the client shows "deleted")."""

    name = serializers.CharField()
    fullname = serializers.CharField()
    type = serializers.ChoiceField(choices=["user"])


class DiscussionRepoSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="namespace/name")
    type = serializers.ChoiceField(choices=["model", "dataset"])


class DiscussionSerializer(serializers.Serializer):
    num = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    isPullRequest = serializers.BooleanField()
    createdAt = serializers.DateTimeField()
    repo = DiscussionRepoSerializer()
    pinned = serializers.BooleanField()
    locked = serializers.BooleanField()
    numComments = serializers.IntegerField(required=False, help_text="In listings only.")
    author = AuthorSerializer(required=False)


class DiscussionPageSerializer(serializers.Serializer):
    discussions = DiscussionSerializer(many=True)
    count = serializers.IntegerField()
    start = serializers.IntegerField()
    numClosedDiscussions = serializers.IntegerField()


class EventSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=EventType.choices)
    createdAt = serializers.DateTimeField()
    author = AuthorSerializer(required=False)
    data = serializers.DictField(
        required=False,
        help_text=(
            "comment: edited, hidden, latest {raw, html, updatedAt, author?}, numEdits, history, editors; "
            "status-change: status; title-change: from, to; commit: oid, subject."
        ),
    )


class ChangesSerializer(serializers.Serializer):
    base = serializers.CharField()
    mergeCommitId = serializers.CharField(required=False)


class DiscussionDetailsSerializer(DiscussionSerializer):
    events = EventSerializer(many=True)
    changes = ChangesSerializer(required=False, help_text="Pull requests only.")
    filesWithConflicts = serializers.ListField(child=serializers.CharField(), required=False)
    diff = serializers.CharField(required=False, help_text="With ?diff=1, for callers who may download.")


DISCUSSION_LIST_PARAMETERS = [
    OpenApiParameter("p", int, description="Page number, from 0."),
    OpenApiParameter("type", str, enum=sorted(TYPE_FILTERS)),
    OpenApiParameter("status", str, enum=sorted(STATUS_FILTERS)),
    OpenApiParameter("author", str, description="A user name."),
]
DISCUSSION_DETAILS_PARAMETERS = [OpenApiParameter("diff", int, enum=[0, 1], description="1: include the diff.")]


class DiscussionCreateSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    pullRequest = serializers.BooleanField(required=False, default=False)


class DiscussionCreatedSerializer(serializers.Serializer):
    num = serializers.IntegerField()
    pullRequest = serializers.BooleanField()


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text="Markdown.")


class NewMessageSerializer(serializers.Serializer):
    newMessage = EventSerializer()


class TitleSerializer(serializers.Serializer):
    title = serializers.CharField()


class NewTitleSerializer(serializers.Serializer):
    newTitle = EventSerializer()


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed"])
    comment = serializers.CharField(required=False, allow_blank=True)


class NewStatusSerializer(serializers.Serializer):
    newStatus = EventSerializer()


class MergeSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True)


class MergedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    mergeCommitId = serializers.CharField(allow_null=True)


class CommentEditSerializer(serializers.Serializer):
    content = serializers.CharField(help_text="The comment's new Markdown.")


class UpdatedCommentSerializer(serializers.Serializer):
    updatedComment = EventSerializer()


class PinSerializer(serializers.Serializer):
    pinned = serializers.BooleanField()


class LockSerializer(serializers.Serializer):
    locked = serializers.BooleanField()


class ReportSerializer(serializers.Serializer):
    reason = serializers.CharField()
    commentId = serializers.CharField(required=False, help_text="The reported comment; else the thread.")


class ReportReceivedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["received"])


class CommunitySettingsSerializer(serializers.Serializer):
    discussionsDisabled = serializers.BooleanField()
