"""What the registry's commit endpoints call for pull requests (registered in CommunityConfig)."""

from __future__ import annotations

from community import permissions
from community.models import Discussion
from community.services import pull_request_open, pull_request_record_commit
from community.services.pulls import PR_REF
from core.errors import BadRequest, RevisionNotFound
from gating.policy import RepoAccess
from registry.models import Commit, Repo


def discussion_for_ref(repo: Repo, ref_name: str) -> Discussion:
    match = PR_REF.match(ref_name)
    discussion = (
        Discussion.objects.filter(repo=repo, num=int(match.group(1)), is_pull_request=True).first() if match else None
    )
    if discussion is None:
        raise RevisionNotFound(ref_name)
    return discussion


class PullRequests:
    def authorize_commit(self, *, access: RepoAccess, ref_name: str | None) -> None:
        if ref_name is None:
            permissions.require_post(access)
            return
        discussion = discussion_for_ref(access.repo, ref_name)
        permissions.require_push(access, discussion)
        if not discussion.is_active_pull_request:
            raise BadRequest(f"Pull request #{discussion.num} is {discussion.status}: it takes no more commits.")

    def open_for_commit(
        self, *, repo: Repo, author, base_branch: str, parent_commit: str | None, title: str, description: str
    ) -> str:
        discussion = pull_request_open(
            repo=repo,
            author=author,
            title=title or "Pull request",
            description=description,
            base_branch=base_branch,
            start_oid=parent_commit,
            draft=False,
        )
        return discussion.ref_name

    def url_path(self, *, repo: Repo, ref_name: str) -> str:
        return f"{repo.web_path}/discussions/{discussion_for_ref(repo, ref_name).num}"

    def opened_by(self, *, repo: Repo, ref_name: str) -> int | None:
        return discussion_for_ref(repo, ref_name).author_id

    def base_ref(self, *, repo: Repo, ref_name: str) -> str | None:
        match = PR_REF.match(ref_name)
        if match is None:
            return None
        found = Discussion.objects.filter(repo=repo, num=int(match.group(1)), is_pull_request=True)
        return found.values_list("base_ref", flat=True).first() or None


def record_pull_request_commit(*, repo: Repo, ref_name: str, commit: Commit) -> None:
    pull_request_record_commit(repo=repo, ref_name=ref_name, commit=commit)
