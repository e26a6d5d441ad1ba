"""The access-request form, described by the card's `extra_gated_*` metadata, and validation of
the answers against it (server-side: the browser form is only a convenience).

    extra_gated_prompt: "You agree to use the model responsibly."
    extra_gated_heading: "Request access"
    extra_gated_description: "..."
    extra_gated_button_content: "Agree and request"
    extra_gated_fields:
      Company: text
      Use case: {type: textarea}
      Country: country
      Date of birth: date_picker
      Purpose: {type: select, options: [Research, {label: Commercial, value: business}]}
      I agree to the terms: checkbox
      Website: {type: text, required: false}
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import pycountry

from core.errors import BadRequest
from registry.selectors import card_summary_at, resolve_revision

FIELD_TYPES = {"text", "textarea", "checkbox", "date_picker", "country", "select"}
MAX_FIELDS = 30
MAX_LABEL = 200
MAX_ANSWER = {"text": 500, "textarea": 5000}
DEFAULT_BUTTON = "Agree and access repository"


@dataclass(frozen=True)
class FormField:
    label: str
    type: str
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()  # (value, label)


@dataclass(frozen=True)
class FormSpec:
    heading: str = "Access this repository"
    prompt: str = ""
    description: str = ""
    button: str = DEFAULT_BUTTON
    fields: tuple[FormField, ...] = field(default_factory=tuple)


class FormSpecError(ValueError):
    pass


def _options(raw) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise FormSpecError("a select field needs a non-empty 'options' list")
    options = []
    for item in raw:
        if isinstance(item, str | int | float):
            options.append((str(item), str(item)))
        elif isinstance(item, dict) and "value" in item:
            options.append((str(item["value"]), str(item.get("label", item["value"]))))
        else:
            raise FormSpecError("select options are strings or {label, value} mappings")
    return tuple(options)


def _field(label, raw) -> FormField:
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
        raise FormSpecError(f"field labels are non-empty strings of at most {MAX_LABEL} characters")
    spec = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, dict) or spec.get("type") not in FIELD_TYPES:
        raise FormSpecError(f"field '{label}' must have a type among {', '.join(sorted(FIELD_TYPES))}")
    options = _options(spec.get("options")) if spec["type"] == "select" else ()
    return FormField(label=label, type=spec["type"], required=spec.get("required", True) is not False, options=options)


def parse_form(card: dict) -> FormSpec:
    """The form of a repo's card; raises FormSpecError for a malformed description."""
    raw_fields = card.get("extra_gated_fields") or {}
    if not isinstance(raw_fields, dict):
        raise FormSpecError("extra_gated_fields must be a mapping of label to type")
    if len(raw_fields) > MAX_FIELDS:
        raise FormSpecError(f"at most {MAX_FIELDS} fields")
    texts = {}
    for key in ("heading", "prompt", "description", "button_content"):
        value = card.get(f"extra_gated_{key}")
        if value is not None and not isinstance(value, str):
            raise FormSpecError(f"extra_gated_{key} must be a string")
        texts[key] = value or ""
    return FormSpec(
        heading=texts["heading"] or FormSpec.heading,
        prompt=texts["prompt"],
        description=texts["description"],
        button=texts["button_content"] or DEFAULT_BUTTON,
        fields=tuple(_field(label, raw) for label, raw in raw_fields.items()),
    )


def form_from_card(card: dict) -> FormSpec:
    """A usable form even when the card's description is broken (the author sees the error on
    validate-yaml; requesters still get the prompt and the standard fields)."""
    try:
        return parse_form(card)
    except FormSpecError:
        return FormSpec()


def form_for_repo(repo) -> FormSpec:
    """The form of the default branch's card, read from README.md itself: field order is the
    author's (a PostgreSQL jsonb copy such as `repo.card_data` does not keep key order)."""

    return form_from_card(card_summary_at(repo.pk, resolve_revision(repo, repo.default_branch).tree_oid).data)


def _answer(spec: FormField, value) -> str | bool | None:
    if spec.type == "checkbox":
        checked = value in (True, "true", "on", "1", 1, "yes")
        if spec.required and not checked:
            raise BadRequest(f"'{spec.label}' must be checked.")
        return checked
    if value in (None, ""):
        if spec.required:
            raise BadRequest(f"'{spec.label}' is required.")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{spec.label}' must be text.")
    value = value.strip()
    limit = MAX_ANSWER.get(spec.type, 100)
    if len(value) > limit:
        raise BadRequest(f"'{spec.label}' is longer than {limit} characters.")
    if spec.type == "country" and pycountry.countries.get(alpha_2=value.upper()) is None:
        raise BadRequest(f"'{spec.label}' must be an ISO 3166-1 alpha-2 country code.")
    if spec.type == "date_picker":
        try:
            datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise BadRequest(f"'{spec.label}' must be a date (YYYY-MM-DD).") from exc
    if spec.type == "select" and value not in {option for option, _ in spec.options}:
        raise BadRequest(f"'{spec.label}' must be one of: {', '.join(o for o, _ in spec.options)}.")
    return value.upper() if spec.type == "country" else value


def validate_answers(form: FormSpec, answers: dict) -> dict:
    """The answers keyed by label. SECURITY: unknown fields are refused, not silently dropped, so
    a client cannot smuggle data into the review queue."""
    if not isinstance(answers, dict):
        raise BadRequest("Answers must be a JSON object keyed by field label.")
    known = {spec.label for spec in form.fields}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(str(name)[:50] for name in unknown[:5])}.")
    cleaned = {}
    for spec in form.fields:
        value = _answer(spec, answers.get(spec.label))
        if value is not None:
            cleaned[spec.label] = value
    return cleaned


def metadata_check(data: dict, repo_type: str) -> tuple[list[str], list[str]]:
    """validate-yaml: a malformed access form is an error in the card."""
    if not any(key.startswith("extra_gated_") for key in data):
        return [], []
    try:
        parse_form(data)
    except FormSpecError as exc:
        return [f"Invalid access-request form: {exc}."], []
    return [], []
