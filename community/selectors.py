"""Reads over discussions. They take a repo the policy has already returned and decide nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import User
from community.diffs import conflicting_paths, unified_diff
from community.models import CommentRevision, Discussion, Event, EventType, Report, Status, Watch
from core.errors import NotFound
from registry.models import Ref, Repo
from registry.selectors import commit_tree_oid

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

TYPE_FILTERS = {"all", "discussion", "pull_request"}
STATUS_FILTERS = {"all", "open", "closed", "merged", "draft"}


class CommentCount(TypedDict):
    num_comments: int


def discussions_for_repo(
    repo: Repo, *, status: str = "all", kind: str = "all", author: str | None = None
) -> QuerySet[WithAnnotations[Discussion, CommentCount]]:
    """Pinned threads first, then the newest. `open` includes draft pull requests and `closed`
    includes merged ones, as on the Hub; `merged` and `draft` select exactly."""
    queryset = Discussion.objects.filter(repo=repo).select_related("author", "repo")
    if kind == "discussion":
        queryset = queryset.filter(is_pull_request=False)
    elif kind == "pull_request":
        queryset = queryset.filter(is_pull_request=True)
    if status == "open":
        queryset = queryset.filter(status__in=[Status.OPEN, Status.DRAFT])
    elif status == "closed":
        queryset = queryset.filter(status__in=[Status.CLOSED, Status.MERGED])
    elif status in (Status.MERGED, Status.DRAFT):
        queryset = queryset.filter(status=status)
    if author:
        queryset = queryset.filter(author__username__iexact=author)
    comments = Count("events", filter=Q(events__type=EventType.COMMENT))
    return queryset.annotate(num_comments=comments).order_by("-is_pinned", "-num")


def discussion_get(repo: Repo, num) -> Discussion:
    try:
        number = int(num)
    except (TypeError, ValueError):
        number = 0
    discussion = Discussion.objects.select_related("author", "repo").filter(repo=repo, num=number).first()
    if discussion is None:
        raise NotFound("Discussion not found")
    return discussion


def thread_for(discussion: Discussion) -> tuple[list[Event], dict[int, list[CommentRevision]]]:
    """The whole thread, oldest first, and each edited comment's earlier versions (newest first,
    by event pk), in three queries whatever its length. The API answers a thread whole, as the Hub
    does (huggingface_hub's get_discussion_details reads `events` in one answer): no per-event
    work here, where Django's prefetch built one queryset per event (two thirds of the CPU of a
    5,000-comment thread's answer)."""
    # Each person once (a thread's thousands of comments have a few dozen authors), attached to
    # the events by hand, rather than three joined user rows built per event.
    events = list(discussion.events.order_by("id"))
    ids = {pk for event in events for pk in (event.author_id, event.edited_by_id, event.hidden_by_id) if pk}
    people = {user.pk: user for user in User.objects.filter(pk__in=ids).only("username", "fullname")}

    def person(pk: int | None) -> User | None:
        return None if pk is None else people.get(pk)

    for event in events:
        event.author = person(event.author_id)
        event.edited_by = person(event.edited_by_id)
        event.hidden_by = person(event.hidden_by_id)
    revisions: dict[int, list[CommentRevision]] = {}
    rows = CommentRevision.objects.filter(event__discussion=discussion).select_related("author").order_by("-id")
    for revision in rows:
        revisions.setdefault(revision.event_id, []).append(revision)
    return events, revisions


def events_page(discussion: Discussion, page_number: str | None) -> Page:
    """One page of a thread, oldest first: a thread of 5,000 comments renders 100 at a time."""
    return Paginator(_events(discussion), settings.GATEHOUSE_PORTAL_PAGE_SIZE).get_page(page_number)


def _events(discussion: Discussion) -> QuerySet[Event]:
    revisions = Prefetch("revisions", queryset=CommentRevision.objects.select_related("author").order_by("-id"))
    return (
        discussion.events.select_related("author", "edited_by", "hidden_by").prefetch_related(revisions).order_by("id")
    )


def event_get(discussion: Discussion, public_id: str) -> Event:
    event = (
        Event.objects.select_related("author", "edited_by", "hidden_by", "discussion")
        .filter(discussion=discussion, public_id=str(public_id).lower())
        .first()
    )
    if event is None:
        raise NotFound("Comment not found")
    return event


@dataclass(frozen=True)
class PullRequestTrees:
    fork: str | None
    base: str | None
    head: str | None
    head_oid: str | None


def pull_request_trees(discussion: Discussion) -> PullRequestTrees:
    repo = discussion.repo
    refs = dict(
        Ref.objects.filter(repo=repo, name__in=[discussion.base_ref, discussion.ref_name]).values_list(
            "name", "commit_oid"
        )
    )
    base_oid, head_oid = refs.get(discussion.base_ref), refs.get(discussion.ref_name)
    return PullRequestTrees(
        fork=commit_tree_oid(repo, discussion.merge_base_oid) if discussion.merge_base_oid else None,
        base=commit_tree_oid(repo, base_oid) if base_oid else None,
        head=commit_tree_oid(repo, head_oid) if head_oid else None,
        head_oid=head_oid,
    )


def files_with_conflicts(discussion: Discussion, trees: PullRequestTrees | None = None) -> list[str]:
    if discussion.status == Status.MERGED:
        return []
    trees = trees or pull_request_trees(discussion)
    return conflicting_paths(trees.fork, trees.base, trees.head)


def pull_request_diff(trees: PullRequestTrees, *, repo_pk: int, may_read: Callable[[str], bool]) -> str:
    """The changes the pull request brings: from where it forked to its head (after a merge the
    same view stays, so the thread keeps showing what was merged)."""
    return unified_diff(trees.fork, trees.head, repo_pk=repo_pk, may_read=may_read)


def open_reports(repo: Repo) -> QuerySet[Report]:
    return (
        Report.objects.filter(discussion__repo=repo, resolved_at__isnull=True)
        .select_related("discussion", "event", "reporter")
        .order_by("-created_at")
    )


def open_reports_across_repos() -> QuerySet[Report]:
    """Every open report of every live repo, newest first: the operators' queue (community.operators)."""
    return (
        Report.objects.filter(resolved_at__isnull=True, discussion__repo__deleted_at__isnull=True)
        .select_related("discussion__repo", "event", "reporter")
        .order_by("-created_at", "-pk")
    )


def is_watching(user, repo: Repo) -> bool:
    return bool(user and user.is_authenticated and Watch.objects.filter(user=user, repo=repo).exists())
