"""Reads over discussions. They take a repo the policy has already returned and decide nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, JSONField, Prefetch, Q, QuerySet, When

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


# The columns of an event that its JSON needs (community.serializers.thread_event_json).
EVENT_COLUMNS = (
    "pk",
    "public_id",
    "type",
    "author_id",
    "created_at",
    "raw",
    "html",
    "html_version",
    "edited_at",
    "edited_by_id",
    "hidden_at",
    "hidden_by_id",
)


class Thread(TypedDict):
    """A whole thread as plain rows: `events` oldest first (EVENT_COLUMNS and `payload`, the
    data), `people` each author, editor or hider once by pk, `revisions` each edited comment's
    earlier versions, newest first."""

    events: list[dict]
    people: dict[int, dict]
    revisions: dict[int, list[dict]]


def thread_for(discussion: Discussion) -> Thread:
    """The whole thread in three queries whatever its length, as rows, not model instances: the API
    answers a thread whole, as the Hub does (huggingface_hub's get_discussion_details reads
    `events` in one answer), and building 5,000 Event objects with their users cost a third of
    that answer's time."""
    # `payload`: the data of the events other than comments (a comment's is empty; decoding 5,000
    # empty JSON objects was a tenth of the answer's time).
    payload = Case(When(~Q(type=EventType.COMMENT), then=F("data")), default=None, output_field=JSONField())
    events = list(discussion.events.order_by("id").values(*EVENT_COLUMNS, payload=payload))
    ids = {row[key] for row in events for key in ("author_id", "edited_by_id", "hidden_by_id") if row[key]}
    revisions: dict[int, list[dict]] = {}
    rows = CommentRevision.objects.filter(event__discussion=discussion).order_by("-id")
    for revision in rows.values("event_id", "raw", "author_id", "created_at"):
        revisions.setdefault(revision["event_id"], []).append(dict(revision))
        if revision["author_id"]:
            ids.add(revision["author_id"])
    people = {row["pk"]: dict(row) for row in User.objects.filter(pk__in=ids).values("pk", "username", "fullname")}
    return {"events": events, "people": people, "revisions": revisions}


def events_page(
    discussion: Discussion, page_number: str | None, *, comment: str | None = None
) -> tuple[Page, Event | None]:
    """One page of a thread, oldest first within the page, 100 events at a time, and the opening
    post when the page does not hold it. Without `page_number` the page holding `comment` (a
    public id: a report's link), else the newest page, as the Hub's page shows a long thread: its
    opening post, a link to the earlier events, and the latest ones."""
    size = settings.GATEHOUSE_PORTAL_PAGE_SIZE
    paginator = Paginator(_events(discussion), size)
    if not page_number and comment:
        target = discussion.events.filter(public_id=str(comment).lower()).values_list("pk", flat=True).first()
        if target is not None:
            page_number = str(discussion.events.filter(pk__lt=target).count() // size + 1)
    page = paginator.get_page(page_number if page_number else paginator.num_pages)
    opening = _events(discussion).first() if page.number > 1 else None
    return page, opening


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
