"""The access-request form, built from the card's `extra_gated_*` metadata, and the server-side
validation of its answers.

The card lists fields as `{label: type}` or `{label: {type, options, required}}` (the Hub's
format, plus the `textarea` type and an optional `required: false`). Answers are keyed by label,
in the browser form and in the JSON body alike. Every field is required unless it says otherwise;
a required checkbox must be ticked.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pycountry

from core.errors import BadRequest

FIELD_TYPES = ("text", "textarea", "checkbox", "date_picker", "country", "select")
MAX_LENGTH = {"text": 500, "textarea": 5000}
MAX_ANSWERS_BYTES = 32 * 1024
MAX_FIELDS = 50
DEFAULT_HEADING = "You need to agree to share your contact information to access this {kind}"
DEFAULT_BUTTON = "Agree and access repository"
DEFAULT_PROMPT = (
    "This repository is publicly accessible, but you have to accept the conditions to access its files and content."
)
COUNTRIES = sorted(((country.alpha_2, country.name) for country in pycountry.countries), key=lambda item: item[1])
COUNTRY_CODES = frozenset(code for code, _ in COUNTRIES)
_TRUE = (True, "true", "on", "1", "yes")


@dataclass(frozen=True)
class GateField:
    label: str
    type: str
    html_name: str
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for selects


@dataclass(frozen=True)
class GateForm:
    heading: str
    prompt: str
    description: str
    button: str
    fields: tuple[GateField, ...] = field(default_factory=tuple)


def _text(value, default: str = "") -> str:
    return str(value)[:2000] if isinstance(value, (str, int, float)) and str(value).strip() else default


def _options(raw) -> tuple[tuple[str, str], ...]:
    options = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and "value" in item:
            options.append((str(item["value"]), str(item.get("label", item["value"]))))
        elif isinstance(item, (str, int, float)):
            options.append((str(item), str(item)))
    return tuple(options)


def _field(index: int, label: str, spec) -> GateField:
    if isinstance(spec, dict):
        kind = str(spec.get("type", "text"))
        required = spec.get("required", True) is not False
        options = _options(spec.get("options"))
    else:
        kind, required, options = str(spec), True, ()
    if kind not in FIELD_TYPES or (kind == "select" and not options):
        kind = "text"
    return GateField(label=label, type=kind, html_name=f"field_{index}", required=required, options=options)


def gate_form(card_data: dict, *, kind: str = "model") -> GateForm:
    """The form a repo's card describes; a card without `extra_gated_*` keys gives the default form."""
    raw_fields = card_data.get("extra_gated_fields")
    fields = []
    if isinstance(raw_fields, dict):
        for index, (label, spec) in enumerate(list(raw_fields.items())[:MAX_FIELDS]):
            fields.append(_field(index, str(label)[:200], spec))
    return GateForm(
        heading=_text(card_data.get("extra_gated_heading"), DEFAULT_HEADING.format(kind=kind)),
        prompt=_text(card_data.get("extra_gated_prompt"), DEFAULT_PROMPT),
        description=_text(card_data.get("extra_gated_description")),
        button=_text(card_data.get("extra_gated_button_content"), DEFAULT_BUTTON),
        fields=tuple(fields),
    )


def _clean(gate_field: GateField, value) -> tuple[object | None, str | None]:
    """(cleaned value or None when empty, problem or None)."""
    if gate_field.type == "checkbox":
        checked = value in _TRUE or (isinstance(value, str) and value.lower() in _TRUE)
        return (True if checked else None), None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if not isinstance(value, str):
        return None, "must be a string"
    value = value.strip()
    if "\x00" in value:
        return None, "must not contain NUL characters"
    limit = MAX_LENGTH.get(gate_field.type)
    if limit and len(value) > limit:
        return None, f"is too long ({len(value)} characters; at most {limit})"
    if gate_field.type == "country":
        code = value.upper()
        return (code, None) if code in COUNTRY_CODES else (None, "must be an ISO 3166-1 alpha-2 country code")
    if gate_field.type == "date_picker":
        try:
            return dt.date.fromisoformat(value).isoformat(), None
        except ValueError:
            return None, "must be a date as YYYY-MM-DD"
    if gate_field.type == "select" and value not in {option for option, _ in gate_field.options}:
        return None, "must be one of " + ", ".join(option for option, _ in gate_field.options)
    return value, None


def validate_answers(form: GateForm, answers) -> dict:
    """The cleaned answers, keyed by label; BadRequest naming every problem otherwise."""
    if not isinstance(answers, dict):
        raise BadRequest("The answers must be a JSON object keyed by field label.")
    if len(json.dumps(answers, default=str).encode()) > MAX_ANSWERS_BYTES:
        raise BadRequest(f"The answers are too large (at most {MAX_ANSWERS_BYTES} bytes).")
    known = {gate_field.label: gate_field for gate_field in form.fields}
    problems = [f"unknown field {key!r}" for key in answers if key not in known]
    cleaned = {}
    for label, gate_field in known.items():
        value, problem = _clean(gate_field, answers.get(label))
        if problem:
            problems.append(f"{label!r} {problem}")
        elif value is None and gate_field.required:
            problems.append(f"{label!r} is required" + (" (tick the box)" if gate_field.type == "checkbox" else ""))
        elif value is not None:
            cleaned[label] = value
    if problems:
        raise BadRequest("Invalid access request: " + "; ".join(problems) + ".")
    return cleaned


def answers_from_post(form: GateForm, post) -> dict:
    """Browser form fields (named field_N) back to label-keyed answers."""
    answers = {}
    for gate_field in form.fields:
        value = post.get(gate_field.html_name)
        if value is not None:
            answers[gate_field.label] = value
    return answers
