"""Validation of a README's metadata: YAML syntax, known key types, and the checks that apps above
the registry register in `registry.hooks.metadata_checks` (license ids, gating form fields)."""

from __future__ import annotations

from registry import hooks, modelcard


def validate_card_text(text: str, *, repo_type: str = "model") -> tuple[list[str], list[str]]:
    if len(text.encode()) > modelcard.MAX_CARD_BYTES:
        return [f"README.md is larger than {modelcard.MAX_CARD_BYTES} bytes."], []
    try:
        data = modelcard.parse_metadata(text)
    except modelcard.CardError as exc:
        return [str(exc)], []
    errors, warnings = modelcard.validate_metadata(data)
    for check in hooks.metadata_checks:
        more_errors, more_warnings = check(data, repo_type)
        errors += more_errors
        warnings += more_warnings
    return errors, warnings
