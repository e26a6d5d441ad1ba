"""Who may do what in a thread. The repo-level decisions come from `gating.policy` (VIEW to
read, PARTICIPATE to post, WRITE to moderate); this module only adds what depends on the thread:
its author, its lock, and the repo's switch that turns discussions off.
"""

from __future__ import annotations

from collections.abc import Callable

from community.models import CommunitySettings, Discussion, Event
from community.selectors import PullRequestTrees
from core.errors import Forbidden, HubError
from gating.policy import Action, Principal, RepoAccess, can, check, check_file, check_license
from registry.models import Repo
from registry.selectors import resolve_revision


def is_moderator(access: RepoAccess) -> bool:
    """Moderators are the repo's writers: they pin, lock, hide, merge and read reports."""
    return can(access, Action.WRITE)


def discussions_enabled(repo: Repo) -> bool:
    return not CommunitySettings.objects.filter(repo=repo, discussions_disabled=True).exists()


def require_post(access: RepoAccess, discussion: Discussion | None = None) -> None:
    """Open a thread or post in one: a participant, discussions on, the thread not locked.
    Moderators may still post in locked threads and in repos whose discussions are off."""
    check(access, Action.PARTICIPATE)
    if is_moderator(access):
        return
    if not discussions_enabled(access.repo):
        raise Forbidden("Discussions are disabled for this repository.")
    if discussion is not None and discussion.is_locked:
        raise Forbidden("This discussion is locked: only the repository's maintainers can post.")


def _is_self(principal: Principal, author_id: int | None) -> bool:
    return author_id is not None and principal.user is not None and author_id == principal.user.pk


def _require_author_or_moderator(access: RepoAccess, author_id: int | None, refusal: str) -> bool:
    """True for a moderator; the author passes without; anyone else is refused."""
    check(access, Action.PARTICIPATE)
    if is_moderator(access):
        return True
    if not _is_self(access.principal, author_id):
        raise Forbidden(refusal)
    return False


def require_author_or_moderator(access: RepoAccess, discussion: Discussion) -> None:
    """Renaming, closing and reopening: the thread's author (while unlocked) or a moderator."""
    refusal = "Only the author of this discussion or the repository's maintainers can change it."
    if not _require_author_or_moderator(access, discussion.author_id, refusal):
        require_post(access, discussion)


def require_comment_author(access: RepoAccess, event: Event) -> None:
    """Editing a comment: its author only; words are never put in someone else's mouth."""
    require_post(access, event.discussion)
    if not _is_self(access.principal, event.author_id):
        raise Forbidden("Only the author of a comment can edit it.")


def require_hide(access: RepoAccess, event: Event) -> None:
    """Hiding a comment: its author or a moderator."""
    refusal = "Only the author of a comment or the repository's maintainers can hide it."
    _require_author_or_moderator(access, event.author_id, refusal)


def require_moderator(access: RepoAccess) -> None:
    check(access, Action.WRITE)


def require_push(access: RepoAccess, discussion: Discussion) -> None:
    """Pushing to refs/pr/N: the pull request's author or a writer, while it is open or a draft."""
    require_author_or_moderator(access, discussion)


def may_see_diff(access: RepoAccess, discussion: Discussion, trees: PullRequestTrees) -> bool:
    """SECURITY: a diff shows file content, so it needs download access and, where the license
    asks for acknowledgment, the caller's acceptance at both ends of the diff (the very `trees`
    the diff is then made from, so a push in between cannot slip past the check)."""
    if not can(access, Action.DOWNLOAD):
        return False
    ends = (discussion.merge_base_oid, trees.head_oid)
    try:
        for commit_oid in filter(None, ends):
            check_license(access, resolve_revision(access.repo, commit_oid))
    except HubError:
        return False
    return True


def file_reader(access: RepoAccess, trees: PullRequestTrees) -> Callable[[str], bool]:
    """For the diff of `trees`: whether each path's content may be shown (release stages withhold
    some files, by path or by content at either end of the diff)."""
    ends = (trees.fork, trees.head)

    def may_read(path: str) -> bool:
        try:
            check_file(access, path, tree_oids=ends)
        except HubError:
            return False
        return True

    return may_read
