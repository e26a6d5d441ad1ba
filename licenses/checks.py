"""Checks registered in `registry.hooks` (see LicensesConfig.ready): license ids in card metadata,
and use restrictions that must follow a model into its derivatives."""

from __future__ import annotations

from accounts.models import User
from core.errors import BadRequest
from gating.policy import Principal, repos_visible_to
from licenses import catalogue_data
from licenses.models import License
from registry.git import trees
from registry.hooks import CommitContext
from registry.models import RepoType, with_folded_id
from registry.selectors import card_summary_at

KNOWN_IDS = frozenset(entry.id for entry in catalogue_data.ENTRIES)


def _license_values(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def license_metadata_check(data: dict, repo_type: str) -> tuple[list[str], list[str]]:
    """validate-yaml: (errors, warnings) about `license`, `license_name` and `license_link`."""
    errors: list[str] = []
    warnings: list[str] = []
    values = _license_values(data.get("license"))
    for value in values:
        if not isinstance(value, str):
            continue  # the registry's type check already reports it
        if value not in KNOWN_IDS:
            hint = f" Did you mean '{value.lower()}'?" if value.lower() in KNOWN_IDS else ""
            errors.append(
                f"'license: {value[:100]}' is not a known license id.{hint} Use one of the ids listed at "
                "/licenses, or 'other' with 'license_name' and 'license_link'."
            )
    is_other = "other" in values
    if is_other and not data.get("license_name"):
        errors.append("'license: other' needs 'license_name' (and a LICENSE file or 'license_link').")
    if not is_other and values and (data.get("license_name") or data.get("license_link")):
        warnings.append("'license_name' and 'license_link' are only used with 'license: other'.")
    return errors, warnings


def _entry_oid(tree_oid: str | None, path: str) -> str | None:
    if tree_oid is None:
        return None
    entry = trees.find_entry(tree_oid, path)
    return entry["oid"] if entry else None


def _acceptable(base: License) -> list[str]:
    if not base.restriction_group:
        return [base.id]
    return list(License.objects.filter(restriction_group=base.restriction_group).values_list("id", flat=True))


def derivative_license_check(context: CommitContext) -> None:
    """A commit whose card declares a `base_model` in this hub under a license with use
    restrictions must declare a license that carries them. Checked when README.md changes: a
    commit that leaves the card alone changes nothing it declares."""
    if _entry_oid(context.tree_oid, "README.md") == _entry_oid(context.parent_tree_oid, "README.md"):
        return
    card = card_summary_at(context.repo.pk, context.tree_oid)  # malformed YAML is the metadata checks' business
    if not card.base_models:
        return
    author = context.author if isinstance(context.author, User) else None
    # SECURITY: only base models the author can see count, so the message never reveals a
    # private repo or its license.
    visible = repos_visible_to(Principal(user=author))
    own = License.objects.filter(pk=card.license).first() if card.license else None
    for base_id in card.base_models:
        namespace, _, name = base_id.partition("/")
        if not name or base_id.lower() == context.repo.repo_id.lower():
            continue
        base_repo = with_folded_id(
            visible, repo_type=RepoType.MODEL, folded_namespace=namespace.lower(), folded_name=name.lower()
        ).first()
        base = License.objects.filter(pk=base_repo.license).first() if base_repo and base_repo.license else None
        if base is None or not base.has_use_restrictions or (own is not None and own.carries_restrictions_of(base)):
            continue
        declared = f"'license: {card.license}'" if card.license else "no license"
        raise BadRequest(
            f"base_model {base_id} is licensed under {base.name} ({base.id}), whose use restrictions must "
            f"follow the model into derivatives, but README.md declares {declared}. Declare a license that "
            f"carries them: {', '.join(_acceptable(base))}."
        )
