"""From a commit in Gatehouse's own storage to the plain inputs the runner takes.

The runner never sees the ORM: it gets a local folder (hard links into the blob store, built by
`workers.runner.materialize`) and the list of jobs. Which files are loaded, and which repos are
refused, is decided by `workers.runner.files`, the same rules the web side checks at request time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from core.errors import ContentQuarantined
from registry.git import trees
from registry.selectors import entry_sha256, read_small_file
from registry.storage import content
from workers.runner import files, materialize


@dataclass(frozen=True)
class ModelPlan:
    """The files a preview of one tree loads, and the pipeline's native image side."""

    paths: tuple[str, ...]
    native_side: int | None


@lru_cache(maxsize=256)
def model_plan(repo_pk: int, tree_oid: str) -> ModelPlan:
    """Raises files.UnsupportedModel (with a message for the user). Trees are immutable: cached
    by repo and tree (content is read only where it was proven to belong to the repo)."""
    entries = dict(trees.iter_files(tree_oid))
    try:
        index_entry = entries.get("model_index.json")
        index_bytes = read_small_file(index_entry, repo_pk=repo_pk) if index_entry else None
        index = files.parse_model_index(index_bytes)
        sizes = {path: entry["size"] for path, entry in entries.items()}
        paths = files.plan_files(sizes, index, max_bytes=settings.GATEHOUSE_PREVIEW_MAX_MODEL_BYTES)
        configs = {
            name: read_small_file(entries[name], repo_pk=repo_pk) if name in entries else None
            for name in ("unet/config.json", "vae/config.json")
        }
    except ContentQuarantined as exc:
        raise files.UnsupportedModel(exc.message) from exc
    return ModelPlan(paths=tuple(paths), native_side=files.native_side(configs))


def is_diffusers_tree(tree_oid: str) -> bool:
    return trees.find_entry(tree_oid, "model_index.json") is not None


def materialize_commit(repo_pk: int, tree_oid: str, commit_oid: str) -> Path:
    """The worker-local folder holding the commit's pipeline files."""
    plan = model_plan(repo_pk, tree_oid)
    local: dict[str, Path] = {}
    for path in plan.paths:
        entry = trees.find_entry(tree_oid, path)
        if entry is not None and not content.belongs_to_repo(repo_pk, entry_sha256(entry)):
            raise files.UnsupportedModel(
                f"The content of {path} is quarantined: it was never proven to be this repo's."
            )
        source = content.local_path(entry_sha256(entry)) if entry else None
        if source is None or not source.exists():
            raise files.UnsupportedModel(f"The stored content of {path} is missing.")
        local[path] = source
    return materialize.materialize(cache_dir=settings.GATEHOUSE_PREVIEW_MODEL_CACHE, commit_oid=commit_oid, files=local)
