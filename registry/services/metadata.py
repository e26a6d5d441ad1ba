"""Keeps the queryable card metadata of a repo in step with its default branch."""

from __future__ import annotations

from django.db import transaction

from core.errors import ContentQuarantined
from registry.cards import modelcard
from registry.git import trees
from registry.models import Repo, RepoTag
from registry.selectors import card_summary_at


@transaction.atomic
def repo_metadata_refresh(*, repo: Repo, tree_oid: str) -> None:
    """Called inside the commit transaction for commits to the default branch; atomic itself, so
    that no other caller can leave the repo row and its tags apart. A quarantined card reads as
    none, so that the owner can still commit (restoring it among other things)."""
    try:
        summary = card_summary_at(repo.pk, tree_oid)
    except ContentQuarantined:
        summary = modelcard.CardSummary()
    repo.card_data = summary.data
    repo.license = summary.license
    repo.pipeline_tag = summary.pipeline_tag
    repo.library_name = summary.library_name
    repo.base_models = summary.base_models
    repo.used_storage = sum(entry["size"] for _, entry in trees.iter_files(tree_oid))
    repo.save(update_fields=["card_data", "license", "pipeline_tag", "library_name", "base_models", "used_storage"])
    RepoTag.objects.filter(repo=repo).exclude(tag__in=summary.tags).delete()
    RepoTag.objects.bulk_create([RepoTag(repo=repo, tag=tag) for tag in summary.tags], ignore_conflicts=True)
