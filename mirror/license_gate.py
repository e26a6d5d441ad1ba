"""Licenses that need acknowledgment, for mirrored repos: the same rule as local repos.

A mirrored repo whose card declares a license our catalogue says needs acknowledgment
(`licenses.catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT`: the RAIL family) serves files only to users
who accepted its exact text here, through the licenses flow (the `/license` page and API), per
user and license version (the sha256 of the text), whatever the upstream itself asks. A revision
cannot shed nor replace the license the repo is under: anyone may open a pull request upstream
whose card says `license: mit`, or `license: openrail` beside a LICENSE that says nothing, and
the mirror cannot tell a pull request's commit from a branch's. So while the default branch's
head needs acknowledgment, every download needs the head's text accepted, and also the
revision's own text when that one needs acknowledgment and differs (a revision can add a
requirement, never replace the head's; an old commit under an older text needs both).

The text is the revision's license file (the card's `license_link` naming one, else LICENSE,
LICENSE.md, ... at the root), read from the upstream with the credentials that may read the
repo's files (the caller's own; the operator's where an operator accepted the repo's terms:
`MirrorAcceptance`), checked against its git blob id and kept by that id; without a file, the
catalogue's packaged text; without either, a note saying where the text is. A file the caller's
credentials may not read upstream (a gate not passed yet) is withheld, and cannot be accepted.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache

from core.errors import HubError
from licenses import catalogue_data, texts
from licenses.models import License
from licenses.selectors import LICENSE_FILE_NAMES, LICENSE_NAME, RevisionLicense, catalogue_url, version_of
from licenses.serializers import license_item
from mirror import client, upstream_cache
from mirror.config import Upstream
from mirror.credentials import Credential
from mirror.models import MirrorLicenseAcknowledgment

MAX_LICENSE_BYTES = 1024 * 1024
TEXT_CACHE_SECONDS = 7 * 86400  # kept by git blob id: the same id is always the same text


@dataclass(frozen=True)
class Subject:
    """One mirrored repo as one caller reaches it."""

    upstream: Upstream
    repo_type: str
    repo_id: str
    credential: Credential  # reads the license file: whoever may read the repo's files
    anonymous: bool

    @property
    def web_path(self) -> str:
        return f"/{'' if self.repo_type == 'model' else f'{self.repo_type}s/'}{self.repo_id}"

    def accept_url(self, commit: str) -> str:
        return f"{settings.GATEHOUSE_PUBLIC_URL}{self.web_path}/license?revision={commit}"


def licenses_of(info: object) -> list[str]:
    """The licenses a repo's card declares (`cardData.license`, or `license:` tags)."""
    if not isinstance(info, dict):
        return []
    card = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
    declared = card.get("license") if card else None
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(item) for item in declared]
    tags = info.get("tags")
    if not isinstance(tags, list):
        return []
    return [tag.split(":", 1)[1] for tag in tags if isinstance(tag, str) and tag.startswith("license:")]


def _first_str(value: object) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip()[:200] if isinstance(value, str) else ""


def _card(info: object) -> dict:
    card = info.get("cardData") if isinstance(info, dict) else None
    return card if isinstance(card, dict) else {}


def declared_license(info: object) -> str:
    """The license id the card declares, lower-cased; '' when none. Of several (`license: [mit,
    openrail]`), the first that needs acknowledgment, else the first: a list cannot hide a
    license that needs it behind one that does not. (A local card's first value is the one used,
    and its push is warned; an upstream's card is nobody's here to warn.)"""
    found = [item.strip().lower()[:100] for item in licenses_of(info)]
    needing = [item for item in found if item in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT]
    return (needing or found or [""])[0]


def needs_acknowledgment(info: dict) -> bool:
    return declared_license(info) in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT


def described(upstream: Upstream, info: object, what: str = "this revision") -> dict:
    """`info` as the upstream's metadata of a revision must be: an object naming its commit id.
    SECURITY: fail closed; an answer that does not say which commit (and so which license) it
    describes is refused, never read as "no license to accept"."""
    if not isinstance(info, dict) or not upstream_cache.is_commit_id(info.get("sha")):
        raise HubError(
            f"The upstream hub {upstream.name!r} did not describe {what}.", status=502, code="UpstreamInvalid"
        )
    return info


def revision_info(subject: Subject, revision: str) -> dict:
    """The upstream's metadata of `revision` (a branch, tag or commit id), as the caller sees it."""
    path = f"/api/{subject.repo_type}s/{subject.repo_id}/revision/{quote(revision, safe='')}"
    info, _ = upstream_cache.metadata_json(subject.upstream, subject.credential, path, anonymous=subject.anonymous)
    return described(subject.upstream, info)


def in_force(info_at: dict, head_info: dict) -> list[dict]:
    """The revisions' metadata whose licenses a download at `info_at` needs accepted, the
    default branch's head first: the head's while it needs acknowledgment (whatever `info_at`
    declares: a pull request may declare anything), and `info_at`'s own when it needs one and is
    another commit. Empty when neither needs one. Both must be described (`described`)."""
    needed = [head_info] if needs_acknowledgment(head_info) else []
    if needs_acknowledgment(info_at) and info_at["sha"] != head_info["sha"]:
        needed.append(info_at)
    return needed


def _license_file(info: dict) -> str | None:
    names: list[str] = [
        item["rfilename"]
        for item in info.get("siblings") or []
        if isinstance(item, dict) and isinstance(item.get("rfilename"), str)
    ]
    link = _first_str(_card(info).get("license_link"))
    if link and "://" not in link and not link.startswith(("/", "#")):
        path = link.removeprefix("./")
        if LICENSE_NAME.match(path.rsplit("/", 1)[-1]) and path in names:
            return path
    root = {name.lower(): name for name in names if "/" not in name}
    for candidate in LICENSE_FILE_NAMES:
        if candidate.lower() in root:
            return root[candidate.lower()]
    return None


def _read_text(subject: Subject, commit: str, path: str) -> str | None:
    """The file's text, or None when the credentials may not read it upstream. SECURITY: bounded
    (MAX_LICENSE_BYTES), and checked against the git blob id the upstream named, so the version a
    user accepts is the sha256 of exactly the text at that commit."""
    resolve_path = f"/{subject.web_path.lstrip('/')}/resolve/{commit}/{quote(path, safe='/')}"
    try:
        facts = upstream_cache.file_facts(
            subject.upstream, subject.credential, resolve_path, anonymous=subject.anonymous
        )
    except client.UpstreamUnavailable:
        raise
    except HubError:
        return None
    if facts.is_lfs or facts.size > MAX_LICENSE_BYTES:
        return None
    key = f"mirror:license-text:{hashlib.sha256(f'{subject.upstream.name}:{facts.oid}'.encode()).hexdigest()}"
    cached = cache.get(key)
    if isinstance(cached, str):
        return cached
    response = client.request(subject.upstream, "GET", resolve_path, token=subject.credential.token)
    data = response.data if response.status == 200 else b""
    blob_id = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    if response.status != 200 or blob_id != facts.oid:
        raise HubError(
            f"The upstream hub {subject.upstream.name!r} did not serve the license file {path} as described.",
            status=502,
            code="UpstreamIntegrity",
        )
    text = data.decode("utf-8", errors="replace")
    cache.set(key, text, timeout=TEXT_CACHE_SECONDS)
    return text


def revision_license(subject: Subject, info: dict) -> RevisionLicense:
    """The license of the revision `info` describes, with the exact text a user accepts."""
    license_id = declared_license(info)
    card = _card(info)
    commit = info["sha"]
    row = License.objects.filter(pk=license_id).first() if license_id else None
    license_name = _first_str(card.get("license_name"))
    name = row.name if row is not None and license_id != "other" else (license_name or license_id or "No license")
    path = _license_file(info)
    file_text = _read_text(subject, commit, path) if path else None
    withheld = path is not None and file_text is None
    packaged = texts.packaged_text(row.text_key) if row is not None and row.text_key else None
    if file_text is not None:
        text, location, full = file_text, f"{path}@{commit}", True
    elif withheld:
        text = f"The text of this license ({path}) is withheld: the upstream hub does not let you read it yet.\n"
        location, full = f"{path}@{commit}", False
    elif packaged is not None and row is not None:
        text = packaged
        location = f"{catalogue_url(row.id)} ({texts.PACKAGE} {texts.package_version()}: {row.text_key})"
        full = True
    else:
        link = row.link if row is not None else ""
        text = f"The full text of {name} is not available on this hub. Read it at {link or 'the upstream hub'}\n"
        location, full = link or "no text available", False
    return RevisionLicense(
        license_id=license_id,
        name=name,
        license=row,
        license_name=license_name,
        license_link=_first_str(card.get("license_link")),
        commit_oid=commit,
        text=text,
        version=version_of(text),
        location=location[:500],
        has_full_text=full,
        requires_acknowledgment=license_id in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT,
        file_path=path if file_text is not None else None,
        is_text_withheld=withheld,
    )


def to_acknowledge(subject: Subject, info_at: object, head_info: object) -> list[RevisionLicense]:
    """The licenses whose exact texts a download at `info_at` needs accepted (see `in_force`),
    the head's first, each text once; empty when none does. `contributed`: the head's, asked
    for another revision."""
    info_at = described(subject.upstream, info_at)
    head_info = described(subject.upstream, head_info, "this repo's default branch")
    needed: list[RevisionLicense] = []
    for info in in_force(info_at, head_info):
        current = revision_license(subject, info)
        if any((seen.license_id, seen.version) == (current.license_id, current.version) for seen in needed):
            continue
        needed.append(dataclasses.replace(current, contributed=info["sha"] != info_at["sha"]))
    return needed


def first_unacknowledged(user, subject: Subject, needed: list[RevisionLicense]) -> RevisionLicense | None:
    """The first of `needed` that `user` has not accepted; None when they accepted them all."""
    return next((current for current in needed if not has_acknowledged(user, subject, current)), None)


def acknowledgments(user, subject: Subject):
    return MirrorLicenseAcknowledgment.objects.filter(
        user=user, upstream=subject.upstream.name, repo_type=subject.repo_type, repo_id=subject.repo_id.lower()
    )


def has_acknowledged(user, subject: Subject, current: RevisionLicense) -> bool:
    if user is None:
        return False
    return acknowledgments(user, subject).filter(license_id=current.license_id, text_id=current.version).exists()


def unacknowledged_message(user, subject: Subject, current: RevisionLicense) -> str:
    """Why `user` may not download yet (as `licenses.selectors.unacknowledged_message` says it
    for local repos): the license, its version, what changed, and where to accept it."""
    kind = "dataset" if subject.repo_type == "dataset" else "model"
    label = current.name if current.name == current.license_id else f"{current.name} ({current.license_id})"
    message = (
        f"Downloading {kind} {subject.repo_id} requires accepting its license {label}, "
        f"version {current.version[:12]}, on this hub."
    )
    url = subject.accept_url(current.commit_oid)
    if user is None:
        return f"{message} Log in, then read and accept it at {url}"
    previous = acknowledgments(user, subject).order_by("-accepted_at", "-pk").first()
    if previous is not None:
        message += (
            f" The license text changed: you accepted version {previous.version[:12]} ({previous.license_id}), "
            f"but revision {current.commit_oid[:12]} is under version {current.version[:12]}."
        )
    return f"{message} Read and accept it at {url}"


def item(subject: Subject, current: RevisionLicense, *, acknowledged: bool | None) -> dict:
    """The JSON of `GET .../license`: a local repo's shape, plus the upstream."""
    answer = license_item(
        current, repo_id=subject.repo_id, acknowledged=acknowledged, accept_href=subject.accept_url(current.commit_oid)
    )
    return {**answer, "upstream": subject.upstream.name}
