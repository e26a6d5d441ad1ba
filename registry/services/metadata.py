"""Keeps the queryable card metadata of a repo in step with its default branch."""

from __future__ import annotations

from functools import lru_cache

from core.errors import BadRequest
from registry import modelcard, trees
from registry.models import Repo, RepoTag
from registry.selectors import read_text_at


@lru_cache(maxsize=1024)
def card_summary_at(repo_pk: int, tree_oid: str) -> modelcard.CardSummary:
    """Parsed card of a tree of a repo. Trees are immutable, so the result is cached; callers
    must not mutate it. Keyed by the repo too: content is read only where it was proven to
    belong (`content.require_in_repo`), so one repo's answer is never another's."""
    text = read_text_at(tree_oid, "README.md", repo_pk=repo_pk)
    if not text:
        return modelcard.CardSummary()
    try:
        return modelcard.summarize(modelcard.parse_metadata(text))
    except modelcard.CardError:
        return modelcard.CardSummary()


def card_check(*, repo_pk: int, tree_oid: str, parent_tree_oid: str | None) -> None:
    """SECURITY: a commit whose README.md metadata the bounded loader refuses (YAML aliases, past
    its bounds) is refused with a 400 saying why, on every branch, pull requests included.
    Malformed YAML is still accepted, as before: the card then has no metadata."""
    entry = trees.find_entry(tree_oid, "README.md")
    before = trees.find_entry(parent_tree_oid, "README.md") if parent_tree_oid else None
    if entry is None or (before is not None and before["oid"] == entry["oid"]):
        return
    text = read_text_at(tree_oid, "README.md", repo_pk=repo_pk)
    if not text:
        return
    try:
        modelcard.parse_metadata(text)
    except modelcard.CardRefused as exc:
        raise BadRequest(str(exc)) from exc
    except modelcard.CardError:
        return


def refresh_repo_metadata(*, repo: Repo, tree_oid: str) -> None:
    """Called inside the commit transaction for commits to the default branch."""
    summary = card_summary_at(repo.pk, tree_oid)
    repo.card_data = summary.data
    repo.license = summary.license
    repo.pipeline_tag = summary.pipeline_tag
    repo.library_name = summary.library_name
    repo.base_models = summary.base_models
    repo.used_storage = sum(entry["size"] for _, entry in trees.iter_files(tree_oid))
    repo.save(update_fields=["card_data", "license", "pipeline_tag", "library_name", "base_models", "used_storage"])
    RepoTag.objects.filter(repo=repo).exclude(tag__in=summary.tags).delete()
    RepoTag.objects.bulk_create([RepoTag(repo=repo, tag=tag) for tag in summary.tags], ignore_conflicts=True)
