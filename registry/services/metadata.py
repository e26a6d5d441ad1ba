"""Keeps the queryable card metadata of a repo in step with its default branch."""

from __future__ import annotations

from functools import lru_cache

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
