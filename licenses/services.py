"""Writes: the catalogue sync, acknowledgments, and the per-repo acknowledgment setting."""

from __future__ import annotations

import re

from django.db import transaction

from accounts.models import User
from core.errors import BadRequest, Conflict
from licenses import catalogue_data
from licenses.models import Acknowledgment, AcknowledgmentSource, License, LicenseText, RepoLicenseSettings
from licenses.selectors import accept_url, known_versions, license_at
from registry.models import Repo
from registry.selectors import resolve_revision

_VERSION = re.compile(r"^[0-9a-f]{64}$")
_SYNCED_FIELDS = [
    "name",
    "family",
    "kind",
    "link",
    "summary",
    "has_use_restrictions",
    "restriction_group",
    "requires_acknowledgment",
    "text_key",
    "position",
]


def _row(entry: catalogue_data.Entry, position: int) -> License:
    group = catalogue_data.restriction_group(entry.id)
    return License(
        id=entry.id,
        name=entry.name,
        family=entry.family,
        kind=entry.kind,
        link=entry.link,
        summary=entry.summary,
        has_use_restrictions=bool(group),
        restriction_group=group,
        requires_acknowledgment=entry.id in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT,
        text_key=entry.text_key,
        position=position,
    )


@transaction.atomic
def catalogue_sync() -> int:
    """Make the License table equal to `catalogue_data` (idempotent); returns the rows changed.
    Ids dropped from the catalogue are kept: acknowledgments may still name them."""
    wanted = {entry.id: _row(entry, index) for index, entry in enumerate(catalogue_data.ENTRIES)}
    existing = {row.pk: row for row in License.objects.all()}
    create = [row for key, row in wanted.items() if key not in existing]
    update = [
        row
        for key, row in wanted.items()
        if key in existing and any(getattr(existing[key], f) != getattr(row, f) for f in _SYNCED_FIELDS)
    ]
    License.objects.bulk_create(create)
    License.objects.bulk_update(update, _SYNCED_FIELDS)
    return len(create) + len(update)


def _check_version(repo: Repo, version: str | None, current) -> None:
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BadRequest("'version' must be the license version: the sha256 (64 hex digits) of the license text.")
    if version == current.version:
        return
    url = accept_url(repo, current.commit_oid)
    if version in known_versions(repo):
        raise Conflict(
            f"License version {version[:12]} is not the license of revision {current.commit_oid[:12]}: "
            f"its current version is {current.version[:12]}. Read it at {url} and accept that version."
        )
    # SECURITY: a hash the user cannot have been shown is refused, so nobody records acceptance
    # of a text that was never this repo's license.
    raise BadRequest(f"License version {version[:12]} was never the license text of {repo.repo_id}. Read it at {url}")


@transaction.atomic
def acknowledgment_record(
    *, user: User, repo: Repo, version: str | None, revision: str | None = None, source: str = AcknowledgmentSource.API
) -> tuple[Acknowledgment, bool]:
    """Record that `user` accepted the license text `version` of `repo` at `revision` (default
    branch when None). Only the version in force at that revision is accepted; a replay returns
    the existing record, so (record, created) is idempotent.

    The access-request form of gated repos calls this with source='access-request' before it
    creates the request, inside the same transaction."""
    resolved = resolve_revision(repo, revision or repo.default_branch)
    current = license_at(repo, resolved)
    _check_version(repo, version, current)
    text, _ = LicenseText.objects.get_or_create(sha256=current.version, defaults={"text": current.text})
    return Acknowledgment.objects.get_or_create(
        user=user,
        repo=repo,
        license_id=current.license_id,
        text=text,
        defaults={
            "license_name": current.license_name,
            "commit_oid": current.commit_oid,
            "location": current.location[:500],
            "source": source,
        },
    )


@transaction.atomic
def repo_license_settings_update(*, repo: Repo, require_acknowledgment: bool) -> RepoLicenseSettings:
    row, _ = RepoLicenseSettings.objects.select_for_update().get_or_create(repo=repo)
    row.require_acknowledgment = require_acknowledgment
    row.save(update_fields=["require_acknowledgment", "updated_at"])
    return row
