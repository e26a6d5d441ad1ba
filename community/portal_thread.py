"""The thread page (events, comment form, author and moderator actions) and a pull request's
diff page. Every POST is one named action, checked in community.permissions before the service runs."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from community import permissions, selectors, services
from community.diffs import parse_for_display
from community.models import EventType
from community.portal import CommunityView
from community.rendering import html_version, render_comments
from community.serializers import HIDDEN_TEXT
from core.errors import BadRequest, HubError
from gating.policy import Action


def event_rows(events) -> list[dict]:
    events = list(events)
    stamp = html_version()
    htmls = render_comments(
        event.raw
        for event in events
        if event.type == EventType.COMMENT and not event.is_hidden and event.html_version != stamp
    )
    htmls.update((event.raw, event.html) for event in events if event.html_version == stamp)
    rows = []
    for event in events:
        row = {"event": event, "kind": event.type}
        if event.type == EventType.COMMENT:
            row["html"] = "" if event.is_hidden else htmls[event.raw]
            row["hidden_text"] = HIDDEN_TEXT
            row["edits"] = len(event.revisions.all())
        rows.append(row)
    return rows


class ThreadPage(CommunityView):
    repo_actions = {"GET": Action.READ_DISCUSSIONS, "POST": Action.PARTICIPATE}

    def get(self, request, namespace, name, num, repo_type=None):
        discussion = selectors.discussion_get(self.repo, num)
        user_id = request.user.pk if request.user.is_authenticated else None
        page, opening = selectors.events_page(discussion, request.GET.get("page"), comment=request.GET.get("comment"))
        rows = event_rows([opening, *page.object_list] if opening else page.object_list)
        context = self.context(
            discussion=discussion,
            opening=rows.pop(0) if opening else None,
            rows=rows,
            page=page,
            earlier=page.start_index() - 2 if opening else 0,
            is_author=user_id is not None and user_id == discussion.author_id,
            user_id=user_id,
            can_post=self._allowed(permissions.require_post, discussion),
            can_change=self._allowed(permissions.require_author_or_moderator, discussion),
        )
        if discussion.is_pull_request:
            context["conflicts"] = selectors.files_with_conflicts(discussion)
        return render(request, "community/thread.html", context)

    def _allowed(self, rule, discussion) -> bool:
        if self.principal.user is None:
            return False
        try:
            rule(self.access, discussion)
        except HubError:
            return False
        return True

    def post(self, request, namespace, name, num, repo_type=None):
        discussion = selectors.discussion_get(self.repo, num)
        action = request.POST.get("action", "")
        handler = getattr(self, "do_" + action.replace("-", "_"), None)
        with self.flashing_errors():
            if handler is None:
                raise BadRequest("Unknown action.")
            handler(request, discussion)
        return redirect(f"{self.repo.web_path}/discussions/{discussion.num}")

    # Posting -----------------------------------------------------------------------------------
    def do_comment(self, request, discussion):
        permissions.require_post(self.access, discussion)
        services.comment_create(discussion=discussion, author=request.user, raw=request.POST.get("comment"))

    def do_edit_comment(self, request, discussion):
        event = selectors.event_get(discussion, request.POST.get("comment_id", ""))
        permissions.require_comment_author(self.access, event)
        services.comment_edit(event=event, editor=request.user, raw=request.POST.get("content"))

    def do_hide_comment(self, request, discussion):
        event = selectors.event_get(discussion, request.POST.get("comment_id", ""))
        permissions.require_hide(self.access, event)
        services.comment_hide(event=event, actor=request.user)

    def do_report(self, request, discussion):
        comment_id = request.POST.get("comment_id")
        event = selectors.event_get(discussion, comment_id) if comment_id else None
        services.report_create(
            discussion=discussion, reporter=request.user, reason=request.POST.get("reason"), event=event
        )
        messages.success(request, "Thank you: the repository's maintainers have been told.")

    # Author or moderator -----------------------------------------------------------------------
    def do_rename(self, request, discussion):
        permissions.require_author_or_moderator(self.access, discussion)
        services.discussion_rename(discussion=discussion, actor=request.user, title=request.POST.get("title"))

    def _status(self, request, discussion, status):
        permissions.require_author_or_moderator(self.access, discussion)
        services.discussion_status_change(
            discussion=discussion, actor=request.user, status=status, comment=request.POST.get("comment", "")
        )

    def do_close(self, request, discussion):
        self._status(request, discussion, "closed")

    def do_reopen(self, request, discussion):
        self._status(request, discussion, "open")

    def do_publish(self, request, discussion):
        self._status(request, discussion, "open")

    # Moderators --------------------------------------------------------------------------------
    def do_merge(self, request, discussion):
        permissions.require_moderator(self.access)
        services.pull_request_merge(discussion=discussion, actor=request.user, comment=request.POST.get("comment", ""))
        messages.success(request, "Merged.")

    def do_pin(self, request, discussion):
        permissions.require_moderator(self.access)
        services.discussion_pin(discussion=discussion, pinned=not discussion.is_pinned, actor=request.user)

    def do_lock(self, request, discussion):
        permissions.require_moderator(self.access)
        services.discussion_lock(discussion=discussion, locked=not discussion.is_locked, actor=request.user)


class PullRequestFilesPage(CommunityView):
    """The diff of a pull request; on a gated repo only for callers who may download."""

    repo_actions = {"GET": Action.READ_DISCUSSIONS}

    def get(self, request, namespace, name, num, repo_type=None):
        discussion = selectors.discussion_get(self.repo, num)
        if not discussion.is_pull_request:
            return redirect(f"{self.repo.web_path}/discussions/{discussion.num}")
        trees = selectors.pull_request_trees(discussion)
        visible = permissions.may_see_diff(self.access, discussion, trees)
        diff = (
            selectors.pull_request_diff(
                trees, repo_pk=self.repo.pk, may_read=permissions.file_reader(self.access, trees)
            )
            if visible
            else ""
        )
        context = self.context(
            discussion=discussion,
            diff_visible=visible,
            lines=parse_for_display(diff),
            conflicts=selectors.files_with_conflicts(discussion, trees),
        )
        return render(request, "community/files.html", context)
