"""Hub-compatible discussion routes (hub-api.md section 7) plus native moderation routes.

Every view is a RepoAPIView: the repo is resolved through the policy before a handler runs, so
a private repo's threads answer exactly like a missing repo. Reading needs VIEW; posting needs
PARTICIPATE; moderation (merge, pin, lock, the settings switch) needs WRITE. What depends on the
thread itself (its author, its lock) is decided in community.permissions.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from community import permissions, schema, selectors, services
from community.models import CommunitySettings
from community.serializers import details_json, discussion_json, event_json
from core import edge
from core.errors import BadRequest
from core.pagination import page_offset
from gating.policy import Action
from gating.repo_views import RepoAPIView


class DiscussionAPIView(RepoAPIView):
    """Base of the routes under …/discussions/{num}: the thread, looked up in the resolved repo."""

    def thread(self, num):
        return selectors.discussion_get(self.repo, num)


class DiscussionsView(RepoAPIView):
    """GET …/discussions?p=&type=&status=&author=: one page of threads; POST opens one."""

    repo_actions = {"GET": Action.READ_DISCUSSIONS, "POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_list",
        parameters=schema.DISCUSSION_LIST_PARAMETERS,
        responses=schema.DiscussionPageSerializer,
    )
    def get(self, request, namespace, name, repo_type=None):
        kind = request.GET.get("type") or "all"
        status = request.GET.get("status") or "all"
        if kind not in selectors.TYPE_FILTERS or status not in selectors.STATUS_FILTERS:
            raise BadRequest("Unknown 'type' or 'status' filter.")
        size = settings.GATEHOUSE_DISCUSSIONS_PAGE_SIZE
        start = page_offset(request.GET.get("p"), size=size)
        queryset = selectors.discussions_for_repo(
            self.repo, status=status, kind=kind, author=request.GET.get("author") or None
        )
        rows = list(queryset[start : start + size])
        return Response(
            {
                "discussions": [discussion_json(row, num_comments=row.num_comments) for row in rows],
                "count": queryset.count(),
                "start": start,
                "numClosedDiscussions": queryset.filter(status__in=["closed", "merged"]).count(),
            }
        )

    @extend_schema(
        operation_id="discussions_create",
        request=schema.DiscussionCreateSerializer,
        responses=schema.DiscussionCreatedSerializer,
    )
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        permissions.require_post(self.access)
        if edge.flag(data.get("pullRequest")):
            discussion = services.pull_request_open(
                repo=self.repo, author=request.user, title=data.get("title"), description=data.get("description")
            )
        else:
            discussion = services.discussion_create(
                repo=self.repo, author=request.user, title=data.get("title"), description=data.get("description")
            )
        return Response({"num": discussion.num, "pullRequest": discussion.is_pull_request})


class DiscussionDetailView(DiscussionAPIView):
    """GET …/discussions/{num}[?diff=1]. The diff shows file content, so on a gated repo it is
    left out for callers who may not download."""

    repo_actions = {"GET": Action.READ_DISCUSSIONS}

    @extend_schema(
        operation_id="discussions_details",
        parameters=schema.DISCUSSION_DETAILS_PARAMETERS,
        responses=schema.DiscussionDetailsSerializer,
    )
    def get(self, request, namespace, name, num, repo_type=None):
        discussion = self.thread(num)
        conflicts = diff = None
        if discussion.is_pull_request:
            trees = selectors.pull_request_trees(discussion)
            conflicts = selectors.files_with_conflicts(discussion, trees)
            if edge.query_flag(request, "diff") and permissions.may_see_diff(self.access, discussion, trees):
                diff = selectors.pull_request_diff(
                    trees, repo_pk=self.repo.pk, may_read=permissions.file_reader(self.access, trees)
                )
        thread = selectors.thread_for(discussion)
        return Response(details_json(discussion, thread, conflicts=conflicts, diff=diff))


class CommentView(DiscussionAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_comment", request=schema.CommentSerializer, responses=schema.NewMessageSerializer
    )
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = self.thread(num)
        permissions.require_post(self.access, discussion)
        event = services.comment_create(
            discussion=discussion, author=request.user, raw=edge.json_object(request).get("comment")
        )
        return Response({"newMessage": event_json(event)})


class TitleView(DiscussionAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_rename", request=schema.TitleSerializer, responses=schema.NewTitleSerializer
    )
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = self.thread(num)
        permissions.require_author_or_moderator(self.access, discussion)
        event = services.discussion_rename(
            discussion=discussion, actor=request.user, title=edge.json_object(request).get("title")
        )
        return Response({"newTitle": event_json(event)})


class StatusView(DiscussionAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_status", request=schema.StatusChangeSerializer, responses=schema.NewStatusSerializer
    )
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = self.thread(num)
        permissions.require_author_or_moderator(self.access, discussion)
        data = edge.json_object(request)
        event = services.discussion_status_change(
            discussion=discussion, actor=request.user, status=data.get("status"), comment=data.get("comment") or ""
        )
        return Response({"newStatus": event_json(event)})


class MergeView(DiscussionAPIView):
    repo_actions = {"POST": Action.WRITE}

    @extend_schema(operation_id="discussions_merge", request=schema.MergeSerializer, responses=schema.MergedSerializer)
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = services.pull_request_merge(
            discussion=self.thread(num), actor=request.user, comment=edge.json_object(request).get("comment") or ""
        )
        return Response({"status": discussion.status, "mergeCommitId": discussion.merge_commit_oid})


class CommentEditView(DiscussionAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_comment_edit",
        request=schema.CommentEditSerializer,
        responses=schema.UpdatedCommentSerializer,
    )
    def post(self, request, namespace, name, num, comment_id, repo_type=None):
        event = selectors.event_get(self.thread(num), comment_id)
        permissions.require_comment_author(self.access, event)
        event = services.comment_edit(event=event, editor=request.user, raw=edge.json_object(request).get("content"))
        return Response({"updatedComment": event_json(event)})


class CommentHideView(DiscussionAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(operation_id="discussions_comment_hide", request=None, responses=schema.UpdatedCommentSerializer)
    def post(self, request, namespace, name, num, comment_id, repo_type=None):
        event = selectors.event_get(self.thread(num), comment_id)
        permissions.require_hide(self.access, event)
        event = services.comment_hide(event=event, actor=request.user)
        return Response({"updatedComment": event_json(event)})


class PinView(DiscussionAPIView):
    """Native: POST {"pinned": bool}."""

    repo_actions = {"POST": Action.WRITE}

    @extend_schema(operation_id="discussions_pin", request=schema.PinSerializer, responses=schema.DiscussionSerializer)
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = services.discussion_pin(
            discussion=self.thread(num),
            pinned=edge.flag(edge.json_object(request).get("pinned")),
            actor=request.user,
        )
        return Response(discussion_json(discussion))


class LockView(DiscussionAPIView):
    """Native: POST {"locked": bool}. Locked threads take posts from moderators only."""

    repo_actions = {"POST": Action.WRITE}

    @extend_schema(
        operation_id="discussions_lock", request=schema.LockSerializer, responses=schema.DiscussionSerializer
    )
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = services.discussion_lock(
            discussion=self.thread(num),
            locked=edge.flag(edge.json_object(request).get("locked")),
            actor=request.user,
        )
        return Response(discussion_json(discussion))


class ReportView(DiscussionAPIView):
    """Native: POST {"reason": str, "commentId"?: str}: a private report to the moderators."""

    repo_actions = {"POST": Action.PARTICIPATE}

    @extend_schema(
        operation_id="discussions_report", request=schema.ReportSerializer, responses=schema.ReportReceivedSerializer
    )
    def post(self, request, namespace, name, num, repo_type=None):
        discussion = self.thread(num)
        data = edge.json_object(request)
        event = selectors.event_get(discussion, data["commentId"]) if data.get("commentId") else None
        report = services.report_create(
            discussion=discussion, reporter=request.user, reason=data.get("reason"), event=event
        )
        return Response({"id": report.pk, "status": "received"})


class CommunitySettingsView(RepoAPIView):
    """Native: GET or PUT {"discussionsDisabled": bool}; reversible, threads stay readable."""

    repo_actions = {"GET": Action.VIEW, "PUT": Action.WRITE}

    @extend_schema(operation_id="community_settings", responses=schema.CommunitySettingsSerializer)
    def get(self, request, namespace, name, repo_type=None):
        return Response({"discussionsDisabled": not permissions.discussions_enabled(self.repo)})

    @extend_schema(
        operation_id="community_settings_update",
        request=schema.CommunitySettingsSerializer,
        responses=schema.CommunitySettingsSerializer,
    )
    def put(self, request, namespace, name, repo_type=None):
        value = edge.json_bool(edge.json_object(request), "discussionsDisabled")
        row: CommunitySettings = services.community_settings_update(repo=self.repo, discussions_disabled=value)
        return Response({"discussionsDisabled": row.discussions_disabled})
