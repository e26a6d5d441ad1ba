"""JSON shapes of the native license routes (camelCase like the Hub's own JSON, datetimes with Z)."""

from __future__ import annotations

from core.timeutil import isoformat_z
from licenses import texts
from licenses.models import Acknowledgment, License
from licenses.selectors import Derivative, RevisionLicense, accept_url, catalogue_url

ACK_COLUMNS = [
    "user",
    "fullname",
    "repo",
    "license",
    "licenseName",
    "version",
    "revision",
    "location",
    "source",
    "acceptedAt",
    "inForce",
]


def catalogue_item(row: License, *, with_text: bool = False) -> dict:
    item = {
        "id": row.id,
        "name": row.name,
        "family": row.family,
        "kind": row.kind,
        "link": row.link,
        "summary": row.summary,
        "hasUseRestrictions": row.has_use_restrictions,
        "restrictionGroup": row.restriction_group or None,
        "requiresAcknowledgment": row.requires_acknowledgment,
        "url": catalogue_url(row.id),
    }
    if with_text:
        item["text"] = texts.packaged_text(row.text_key) if row.text_key else None
        item["textSource"] = f"{texts.PACKAGE} {texts.package_version()}: {row.text_key}" if item["text"] else None
    return item


def revision_license_item(repo, current: RevisionLicense, *, acknowledged: bool | None) -> dict:
    return license_item(
        current, repo_id=repo.repo_id, acknowledged=acknowledged, accept_href=accept_url(repo, current.commit_oid)
    )


def license_item(current: RevisionLicense, *, repo_id: str, acknowledged: bool | None, accept_href: str) -> dict:
    """`GET .../license` of a repo at a revision (the mirror's repos add their upstream)."""
    row = current.license
    return {
        "repo": repo_id,
        "revision": current.commit_oid,
        "license": current.license_id or None,
        "name": current.name,
        "licenseName": current.license_name or None,
        "licenseLink": current.license_link or None,
        "summary": row.summary if row else None,
        "hasUseRestrictions": bool(row and row.has_use_restrictions),
        "requiresAcknowledgment": current.requires_acknowledgment,
        "acknowledged": acknowledged,
        "version": current.version,
        "location": current.location,
        "hasFullText": current.has_full_text,
        "textWithheld": current.is_text_withheld,
        "contributedRevision": current.contributed,
        "text": current.text,
        "acceptUrl": accept_href,
    }


def acknowledgment_item(ack: Acknowledgment) -> dict:
    return {
        "user": ack.user.username,
        "fullname": ack.user.fullname,
        "repo": ack.repo.repo_id,
        "license": ack.license_id,
        "licenseName": ack.license_name or None,
        "version": ack.version,
        "revision": ack.commit_oid,
        "location": ack.location,
        "source": ack.source,
        "acceptedAt": isoformat_z(ack.accepted_at),
        # False for a text accepted at a pull request's commit (older versions allowed it): it
        # was never put in force by the repo's writers and satisfies no download.
        "inForce": not getattr(ack, "accepted_on_pull_request", False),
    }


def acknowledgment_rows(acks):
    """Header and one row per acknowledgment, for the CSV export."""
    yield ACK_COLUMNS
    for ack in acks:
        item = acknowledgment_item(ack)
        yield [
            str(item[column]).lower() if isinstance(item[column], bool) else item[column] or ""
            for column in ACK_COLUMNS
        ]


def derivative_item(derivative: Derivative) -> dict:
    return {
        "id": derivative.repo.repo_id,
        "license": derivative.repo.license or None,
        "licenseName": derivative.license.name if derivative.license else None,
        "carriesRestrictions": derivative.carries_restrictions,
        "lastModified": isoformat_z(derivative.repo.last_modified),
    }
