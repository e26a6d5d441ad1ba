"""Keeps the queryable card metadata of a repo in step with its default branch."""

from __future__ import annotations

from core.errors import BadRequest, ContentQuarantined
from registry import modelcard, trees
from registry.models import Repo, RepoTag
from registry.selectors import card_summary_at, read_text_at


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
    """Called inside the commit transaction for commits to the default branch. A quarantined card
    reads as none, so that the owner can still commit (restoring it among other things)."""
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
