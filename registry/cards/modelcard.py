"""Model-card metadata: the YAML front matter of README.md, and what the registry derives from it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from core import boundedyaml, jsontext

MAX_CARD_BYTES = 1024 * 1024
# Leading blank lines are allowed before the opening '---', as the Hub and its client read cards
# (huggingface_hub.repocard.REGEX_YAML_BLOCK).
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class CardError(ValueError):
    pass


class CardRefused(CardError):
    """The metadata is not even parsed: it uses YAML aliases or exceeds the bounds of
    `core.boundedyaml` (a YAML bomb, or a card no one should have to read)."""


def split_card(text: str) -> tuple[str | None, str]:
    """(yaml text or None, markdown body)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text
    return match.group(1), text[match.end() :]


def parse_metadata(text: str) -> dict:
    """The front matter as a dict. Malformed YAML raises CardError (CardRefused for aliases and
    past the loader's bounds); no front matter gives {}. Every card is read through here."""
    raw, _ = split_card(text)
    if raw is None or not raw.strip():
        return {}
    try:
        data = boundedyaml.load(raw)
    except boundedyaml.YAMLRefused as exc:
        raise CardRefused(f"README.md metadata refused: {exc}.") from exc
    except boundedyaml.YAMLInvalid as exc:
        raise CardError(f"Invalid YAML in README.md metadata: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("README.md metadata must be a YAML mapping.")
    # YAML dates and other non-JSON scalars become strings, so the data can be stored and served;
    # infinities and integers past Python's 4,300-digit limit have no JSON form (nor a Postgres one).
    try:
        converted = json.loads(json.dumps(data, default=str, allow_nan=False))
    except ValueError as exc:
        raise CardError(f"Invalid value in README.md metadata: {exc}") from exc
    except TypeError as exc:  # a key that is neither a string nor a number, such as a date
        raise CardError("README.md metadata keys must be strings.") from exc
    if jsontext.has_unstorable_text(converted):  # NUL or a lone surrogate: PostgreSQL refuses both
        raise CardError(f"README.md metadata: {jsontext.MESSAGE}")
    return converted


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, (str, int, float)) and str(item)]
    return []


def _as_str(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)[:100] if isinstance(value, (str, int, float)) else ""


@dataclass
class CardSummary:
    data: dict = field(default_factory=dict)
    license: str = ""
    pipeline_tag: str = ""
    library_name: str = ""
    base_models: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def summarize(data: dict) -> CardSummary:
    """Queryable fields and the full tag list (card tags plus derived ones, as the Hub lists them)."""
    license_id = _as_str(data.get("license"))
    pipeline = _as_str(data.get("pipeline_tag"))
    library = _as_str(data.get("library_name"))
    base_models = _as_list(data.get("base_model"))
    tags: list[str] = []
    for tag in _as_list(data.get("tags")) + ([library] if library else []) + ([pipeline] if pipeline else []):
        tags.append(tag)
    tags += [f"dataset:{name}" for name in _as_list(data.get("datasets"))]
    tags += [f"base_model:{name}" for name in base_models]
    tags += [f"language:{name}" for name in _as_list(data.get("language"))]
    if license_id:
        tags.append(f"license:{license_id}")
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag[:200], None)
    return CardSummary(
        data=data,
        license=license_id,
        pipeline_tag=pipeline,
        library_name=library,
        base_models=base_models,
        tags=list(seen),
    )


# Keys whose type the Hub checks; values are (accepted types, description for the message).
_STRING = ((str,), "a string")
_STRING_OR_LIST = ((str, list), "a string or a list of strings")
KNOWN_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "license": _STRING_OR_LIST,
    "license_name": _STRING,
    "license_link": _STRING,
    "tags": _STRING_OR_LIST,
    "pipeline_tag": _STRING,
    "library_name": _STRING,
    "base_model": _STRING_OR_LIST,
    "base_model_relation": _STRING,
    "datasets": _STRING_OR_LIST,
    "language": _STRING_OR_LIST,
    "metrics": _STRING_OR_LIST,
    "new_version": _STRING,
    "thumbnail": _STRING,
    "extra_gated_prompt": _STRING,
    "extra_gated_heading": _STRING,
    "extra_gated_description": _STRING,
    "extra_gated_button_content": _STRING,
    "extra_gated_fields": ((dict,), "a mapping of field label to field type"),
    "extra_gated_eu_disallowed": ((bool,), "true or false"),
    "widget": ((list,), "a list"),
    "model-index": ((list,), "a list"),
    "inference": ((bool, dict), "true, false or a mapping"),
}
BASE_MODEL_RELATIONS = {"adapter", "merge", "quantized", "finetune"}


def validate_metadata(data: dict) -> tuple[list[str], list[str]]:
    """Type checks of the keys the Hub knows; (errors, warnings). Apps add checks via hooks."""
    errors: list[str] = []
    warnings: list[str] = []
    for key, (types, description) in KNOWN_KEYS.items():
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if not isinstance(value, types) or (
            isinstance(value, list) and list in types and str in types and not all(isinstance(v, str) for v in value)
        ):
            errors.append(f"'{key}' must be {description}.")
    relation = data.get("base_model_relation")
    if isinstance(relation, str) and relation and relation not in BASE_MODEL_RELATIONS:  # other types: above
        errors.append(f"'base_model_relation' must be one of {', '.join(sorted(BASE_MODEL_RELATIONS))}.")
    if isinstance(data.get("license"), list) and len(data["license"]) > 1:
        warnings.append("Only the first 'license' value is used.")
    return errors, warnings
