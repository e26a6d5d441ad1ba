"""A git push, ref by ref, under exactly the rules of the commit API.

The caller (githttp's receive-pack) has read the pack (`registry.git.packs`: bounded and
verified) and decided with the policy who may move which ref. Here, for one ref, the pushed
objects are staged and checked (`registry.services.gitstage`), then, in one transaction with
the ref locked: its old value must still be the one the pusher saw ("stale info" otherwise,
also when another push created the same new ref meanwhile), a non-fast-forward or a moved tag
needs `may_rewrite` (audited through `hooks.history_changed`), every new commit passes
`commit_check`, and `ref_land` moves the ref with everything that entails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from accounts.models import User
from core.errors import BadRequest, Conflict
from registry import hooks
from registry.git.paths import validate_ref_name
from registry.models import Commit, Repo
from registry.services.commits import AddFile, _lock_branch, commit_check, objects_store, ref_land
from registry.services.gitstage import PushStager, StagedCommit, held_tree, parse_commit
from registry.services.refs import branch_create, branch_delete, tag_create, tag_delete

ZERO = "0" * 40
STALE = "stale info: the ref moved since you fetched; fetch first"
REF_UNIQUE = "ref_unique_per_repo"


@contextmanager
def _stale_when_created_meanwhile() -> Iterator[None]:
    """A new ref has no row to lock: two pushes creating it at once both pass the check of its
    old value, and the second's insert meets the first's row. Around a transaction (rolled back
    by then), that second push is told what git tells of any ref that moved under it."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != REF_UNIQUE:
            raise
        raise Conflict(STALE) from None


def ref_push(
    *,
    repo: Repo,
    stager: PushStager,
    ref_name: str,
    old_oid: str | None,
    new_oid: str,
    author: User,
    may_rewrite: bool,
) -> None:
    """Move a branch or pull request ref to `new_oid` (see the module's docstring)."""
    with _stale_when_created_meanwhile(), transaction.atomic():
        _ref_push(
            repo=repo,
            stager=stager,
            ref_name=ref_name,
            old_oid=old_oid,
            new_oid=new_oid,
            author=author,
            may_rewrite=may_rewrite,
        )


def _ref_push(
    *,
    repo: Repo,
    stager: PushStager,
    ref_name: str,
    old_oid: str | None,
    new_oid: str,
    author: User,
    may_rewrite: bool,
) -> None:
    commits = stager.new_commits(new_oid)
    ref = _lock_branch(repo, ref_name)
    current = ref.commit_oid if ref else None
    if current != old_oid:
        raise Conflict(STALE)
    if current is None and ref_name.startswith("refs/heads/"):
        validate_ref_name(ref_name.removeprefix("refs/heads/"), kind="branch")
    if current is None and not commits:
        branch_create(repo=repo, branch=ref_name.removeprefix("refs/heads/"), starting_point=new_oid)
        return
    pushed_parents = {item.oid: item.parents for item in commits}
    if current is not None and not stager.held.is_ancestor(current, new_oid, pushed_parents):
        if not may_rewrite:
            raise Conflict(
                "non-fast-forward: fetch and merge first (only writers may force-push, never to another's pull request)"
            )
        for listener in hooks.history_changed:
            listener(repo, author, "repo.git_force_push", {"ref": ref_name, "from": current, "to": new_oid})
    trees_of = {item.oid: item.tree_oid for item in commits}
    added: list[AddFile] = []
    for item in commits:
        objects_store(repo=repo, new_trees=item.new_trees, added=item.added)
        parent = item.parents[0] if item.parents else None
        parent_tree = trees_of.get(parent) if parent in trees_of else held_tree(stager.held, parent)
        commit_check(repo=repo, ref_name=ref_name, tree_oid=item.tree_oid, parent_tree_oid=parent_tree, author=author)
        _commit_row(repo, item, author, on_pull_request=ref_name.startswith("refs/pr/"))
        added.extend(item.added)
    tip = Commit.objects.get(repo=repo, oid=new_oid)
    ref_land(repo=repo, ref=ref, ref_name=ref_name, commit=tip, added=added, author=author)


def _commit_row(repo: Repo, item: StagedCommit, author: User, *, on_pull_request: bool) -> None:
    parsed = parse_commit(item.raw)
    message = parsed.message.decode("utf-8", "replace")
    Commit.objects.get_or_create(
        repo=repo,
        oid=item.oid,
        defaults={
            "tree_oid": item.tree_oid,
            "parent_oids": item.parents,
            "author": author,
            "author_name": parsed.author.decode("utf-8", "replace").split(" <", 1)[0][:200],
            "title": (message.splitlines() or [""])[0],
            "message": message,
            "created_at": datetime.fromtimestamp(parsed.commit_time, tz=UTC),
            "raw": item.raw,
            "made_on_pull_request": on_pull_request,
        },
    )


def tag_push(
    *, repo: Repo, tag: str, old_oid: str | None, new_oid: str | None, author: User, may_rewrite: bool
) -> None:
    """Create, move (writers forcing; audited as a forced push) or delete a lightweight tag on a
    commit this repo holds, if the tag still names `old_oid` (checked with its row locked)."""
    validate_ref_name(tag, kind="tag")
    name = f"refs/tags/{tag}"
    with _stale_when_created_meanwhile(), transaction.atomic():
        ref = _lock_branch(repo, name)
        current = ref.commit_oid if ref else None
        if current != old_oid:
            raise Conflict(STALE)
        if current is not None and new_oid is not None:
            if not may_rewrite:
                raise Conflict("the tag already exists (only writers may force-push a tag)")
            for listener in hooks.history_changed:
                listener(repo, author, "repo.git_force_push", {"ref": name, "from": current, "to": new_oid})
        if current is not None:
            tag_delete(repo=repo, tag=tag, old_oid=current)
        if new_oid is not None:
            if not Commit.objects.filter(repo=repo, oid=new_oid).exists():
                raise BadRequest(f"A tag must name a commit of this repo; push the branch holding {new_oid} first.")
            tag_create(repo=repo, tag=tag, revision=new_oid)


@transaction.atomic
def branch_push_delete(*, repo: Repo, branch: str, old_oid: str) -> None:
    """Delete a branch if it still names `old_oid` (checked with its row locked)."""
    ref = _lock_branch(repo, f"refs/heads/{branch}")
    if ref is None or ref.commit_oid != old_oid:
        raise Conflict(STALE)
    branch_delete(repo=repo, branch=branch, old_oid=old_oid)


__all__ = ["PushStager", "branch_push_delete", "ref_push", "tag_push"]
