"""Validation of a README's metadata: YAML syntax, known key types, and the checks that apps above
the registry register in `registry.hooks.metadata_checks` (license ids, gating form fields)."""

from __future__ import annotations

from core.errors import BadRequest
from registry import hooks
from registry.cards import modelcard
from registry.git import trees
from registry.selectors import read_text_at

# The Hub's warning for a card without metadata, with its documentation link per repo type.
_CARD_DOCS = {
    "model": "https://huggingface.co/docs/hub/model-cards#model-card-metadata",
    "dataset": "https://huggingface.co/docs/hub/datasets-cards",
    "space": "https://huggingface.co/docs/hub/spaces-config-reference",
}


def validate_card_text(text: str, *, repo_type: str = "model") -> tuple[list[str], list[str]]:
    if len(text.encode()) > modelcard.MAX_CARD_BYTES:
        return [f"README.md is larger than {modelcard.MAX_CARD_BYTES} bytes."], []
    try:
        data = modelcard.parse_metadata(text)
    except modelcard.CardError as exc:
        return [str(exc)], []
    errors, warnings = modelcard.validate_metadata(data)
    if not data:
        docs = _CARD_DOCS.get(repo_type) if isinstance(repo_type, str) else None
        warnings.insert(0, f"empty or missing yaml metadata in repo card ({docs or _CARD_DOCS['model']})")
    for check in hooks.metadata_checks:
        more_errors, more_warnings = check(data, repo_type)
        errors += more_errors
        warnings += more_warnings
    return errors, warnings


def check_card_at(*, repo_pk: int, tree_oid: str, parent_tree_oid: str | None) -> None:
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
