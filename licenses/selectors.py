"""Reads about licenses: the license of a revision, its version, acknowledgments and derivatives.

They take repos the policy already returned and decide no access themselves; `gating.policy`
calls `license_to_acknowledge` for the download decision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from core.bytecache import memo_by_bytes
from core.errors import RevisionNotFound
from licenses import catalogue_data, texts
from licenses.models import Acknowledgment, License, RepoLicenseSettings
from registry import hooks
from registry.git import trees
from registry.models import Commit, Repo
from registry.selectors import Resolved, card_summary_at, is_contributed, read_text_at, resolve_revision

# Looked up at the root, in this order, unless the card's `license_link` names a license file.
LICENSE_FILE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "LICENCE.md", "LICENCE.txt", "COPYING")
# What `license_link` may name: a file that is a license by its name ('LICENSE', 'LICENSE-MODEL.md',
# 'legal/licence.txt', 'COPYING'); anything else (config.json, weights) is never a license text.
LICENSE_NAME = re.compile(r"^(licen[cs]e|copying)([-_. ][^/]*)?$", re.IGNORECASE)
KNOWN_VERSIONS_WALK = 500


@dataclass(frozen=True)
class CardLicense:
    """What the tree itself says: the card's license fields and the LICENSE file, if any."""

    license_id: str
    license_name: str
    license_link: str
    file_path: str | None
    file_text: str | None


@dataclass(frozen=True)
class RevisionLicense:
    """The license of one revision and the exact text shown for it. `version` is the sha256 of
    `text`: accepting a version means accepting exactly that text."""

    license_id: str  # '' when the revision declares none
    name: str
    license: License | None
    license_name: str
    license_link: str
    commit_oid: str  # the revision whose license is in force (see license_in_force_at)
    text: str
    version: str
    location: str
    has_full_text: bool
    requires_acknowledgment: bool
    file_path: str | None = None  # the file the text comes from, if any
    contributed: bool = False  # the revision asked for is contributed: `commit_oid` is its base's
    is_text_withheld: bool = False  # `text` is a note: the caller may not read the file (release stage)


def _first_str(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip()[:200] if isinstance(value, str) else ""


def _is_text_file(entry) -> bool:
    return entry is not None and entry["type"] == "file" and not entry.get("lfs")


def _license_file(tree_oid: str, link: str) -> str | None:
    """`license_link` may name a license file of the repo ('LICENSE.md', './legal/LICENSE'); else
    the usual names at the root. SECURITY: the text is shown to whoever may see the repo, gated or
    not (they must read it to accept it), so only a regular file named as a license qualifies: a
    card pointing at config.json or at weights (LFS) reads nothing."""
    if link and "://" not in link and not link.startswith(("/", "#")):
        path = link.removeprefix("./")
        if LICENSE_NAME.match(path.rsplit("/", 1)[-1]) and _is_text_file(trees.find_entry(tree_oid, path)):
            return path
    root = trees.tree_index(tree_oid)
    lowered = {name.lower(): name for name, entry in root.items() if _is_text_file(entry)}
    for candidate in LICENSE_FILE_NAMES:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


@memo_by_bytes(4 * 1024**2)  # bytes: a license's text can be long
def card_license_at(repo_pk: int, tree_oid: str) -> CardLicense:
    """Cached by repo and tree id: trees are immutable, so the answer never changes; the repo is
    part of the key because content is read only where it was proven to belong."""
    data = card_summary_at(repo_pk, tree_oid).data
    link = _first_str(data.get("license_link"))
    path = _license_file(tree_oid, link)
    return CardLicense(
        license_id=_first_str(data.get("license")),
        license_name=_first_str(data.get("license_name")),
        license_link=link,
        file_path=path,
        file_text=read_text_at(tree_oid, path, repo_pk=repo_pk) if path else None,
    )


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _display_name(card: CardLicense, row: License | None) -> str:
    if card.license_id == "other" or row is None:
        return card.license_name or card.license_id or "No license declared"
    return row.name


def _text_and_location(card: CardLicense, row: License | None, name: str, commit_oid: str) -> tuple[str, str, bool]:
    if card.file_text is not None and card.file_path:
        return card.file_text, f"{card.file_path}@{commit_oid}", True
    packaged = texts.packaged_text(row.text_key) if row is not None and card.license_id != "other" else None
    if row is not None and packaged is not None:
        return packaged, f"{catalogue_url(row.id)} ({texts.PACKAGE} {texts.package_version()}: {row.text_key})", True
    link = card.license_link if card.license_id == "other" else (row.link if row else "")
    if link:
        note = f"The full text of {name} is not available on this hub. Read it at {link}\n"
    else:
        note = f"This revision declares the license {name} but ships no LICENSE file and no link to its text.\n"
    return note, link or "no text available", False


def requires_acknowledgment_opt_in(repo: Repo) -> bool:
    return RepoLicenseSettings.objects.filter(repo=repo, require_acknowledgment=True).exists()


def _requires_acknowledgment(repo: Repo, card: CardLicense, opt_in: bool | None = None) -> bool:
    """From the catalogue's source, or the author's opt-in: no query on the download path, where
    the policy found the repo with its opt-in (gating.policy.RepoAccess); None: look it up."""
    if card.license_id in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT:
        return True
    return requires_acknowledgment_opt_in(repo) if opt_in is None else opt_in


def license_in_force_at(repo: Repo, resolved: Resolved) -> Resolved:
    """The revision whose license is in force at `resolved`: itself when writers control it.

    SECURITY: an acknowledgment binds only to a text a writer put in force. A pull request (or a
    commit made on one, registry.selectors.is_contributed) is anyone's to write, LICENSE and card
    included, so it is judged under its base branch's head (the default branch's when the base is
    unknown or gone): its own text can neither be accepted nor satisfy the gate."""
    if not is_contributed(repo, resolved):
        return resolved
    ref_name = resolved.ref.name if resolved.ref is not None else resolved.revision
    base = hooks.pull_requests.base_ref(repo=repo, ref_name=ref_name) if hooks.pull_requests else None
    for candidate in (base, f"refs/heads/{repo.default_branch}"):
        if candidate and candidate.startswith("refs/heads/"):
            try:
                return resolve_revision(repo, candidate)
            except RevisionNotFound:
                continue
    raise RevisionNotFound(repo.default_branch)


def license_at(repo: Repo, resolved: Resolved, *, opt_in: bool | None = None) -> RevisionLicense:
    """The license in force at `resolved` and its text (see `license_in_force_at`); `opt_in`:
    the author's opt-in when the caller knows it already (gating.policy.RepoAccess)."""
    in_force = license_in_force_at(repo, resolved)
    card = card_license_at(repo.pk, in_force.tree_oid)
    current = _revision_license(in_force, card, required=_requires_acknowledgment(repo, card, opt_in))
    return dataclasses.replace(current, contributed=in_force is not resolved)


def shown_to(current: RevisionLicense, *, may_read: bool) -> RevisionLicense:
    """`current` as shown to a caller; `may_read` is gating.policy.may_read_license_text's answer."""
    if may_read:
        return current
    note = f"The text of this license ({current.file_path}) is withheld in the current release stage.\n"
    return dataclasses.replace(current, text=note, has_full_text=False, is_text_withheld=True)


def _revision_license(resolved: Resolved, card: CardLicense, *, required: bool) -> RevisionLicense:
    row = License.objects.filter(pk=card.license_id).first() if card.license_id else None
    name = _display_name(card, row)
    text, location, full = _text_and_location(card, row, name, resolved.commit_oid)
    return RevisionLicense(
        license_id=card.license_id,
        name=name,
        license=row,
        license_name=card.license_name,
        license_link=card.license_link,
        commit_oid=resolved.commit_oid,
        text=text,
        version=version_of(text),
        location=location,
        has_full_text=full,
        requires_acknowledgment=required,
        file_path=card.file_path if card.file_text is not None else None,
    )


def catalogue_url(license_id: str) -> str:
    return f"{settings.GATEHOUSE_PUBLIC_URL}/licenses/{license_id}"


def accept_url(repo: Repo, commit_oid: str) -> str:
    return f"{settings.GATEHOUSE_PUBLIC_URL}{repo.web_path}/license?revision={commit_oid}"


def has_acknowledged(user, repo: Repo, current: RevisionLicense) -> bool:
    if user is None:
        return False
    return Acknowledgment.objects.filter(
        user=user, repo=repo, license_id=current.license_id, text_id=current.version
    ).exists()


def license_to_acknowledge(repo: Repo, resolved: Resolved, *, opt_in: bool | None = None) -> RevisionLicense | None:
    """The license whose exact text a download at `resolved` needs accepted; None when none does.
    `opt_in`: the author's opt-in when the caller already knows it (None: looked up)."""
    resolved = license_in_force_at(repo, resolved)
    card = card_license_at(repo.pk, resolved.tree_oid)
    if not _requires_acknowledgment(repo, card, opt_in):
        if repo.license not in catalogue_data.ACKNOWLEDGMENT_BY_DEFAULT:
            return None
        # SECURITY: a revision cannot shed the license the repo is under: anyone may push a pull
        # request whose card says `license: mit`. Such a revision needs the head's license.
        resolved = resolve_revision(repo, repo.default_branch)
        card = card_license_at(repo.pk, resolved.tree_oid)
        if not _requires_acknowledgment(repo, card, opt_in):
            return None
    return _revision_license(resolved, card, required=True)


def unacknowledged_message(user, repo: Repo, current: RevisionLicense) -> str:
    """Why `user` may not download yet: the license, its version, what changed since the user's
    last acceptance, and where to accept it."""
    kind = "dataset" if repo.repo_type == "dataset" else "model"
    label = current.name if current.name == current.license_id else f"{current.name} ({current.license_id or 'none'})"
    message = (
        f"Downloading {kind} {repo.repo_id} requires accepting its license {label}, version {current.version[:12]}."
    )
    url = accept_url(repo, current.commit_oid)
    if user is None:
        return f"{message} Log in, then read and accept it at {url}"
    previous = Acknowledgment.objects.filter(user=user, repo=repo).order_by("-accepted_at", "-pk").first()
    if previous is not None:
        message += (
            f" The license text changed: you accepted version {previous.version[:12]} ({previous.license_id}), "
            f"but revision {current.commit_oid[:12]} is under version {current.version[:12]}."
        )
    return f"{message} Read and accept it at {url}"


def known_versions(repo: Repo) -> set[str]:
    """Versions of the license text across the repo's recent commits: tells an outdated version
    (409) from one that was never this repo's (a forged hash, 400). Commits made on pull requests
    are left out: their texts were never in force."""
    commits = Commit.objects.filter(repo=repo, made_on_pull_request=False).order_by("-created_at")
    tree_oids = commits.values_list("tree_oid", flat=True)[:KNOWN_VERSIONS_WALK]
    rows = {row.pk: row for row in License.objects.all()}
    found = set()
    for tree_oid in set(tree_oids):
        card = card_license_at(repo.pk, tree_oid)
        row = rows.get(card.license_id)
        text, _, _ = _text_and_location(card, row, _display_name(card, row), "")
        found.add(version_of(text))
    return found


def _with_in_force(acks: QuerySet[Acknowledgment]) -> QuerySet[Acknowledgment]:
    """`accepted_on_pull_request`: the text was accepted at a commit made on a pull request, which
    older versions allowed (a contributor's own text); such a record binds to nothing a writer put
    in force, and the log says so rather than showing it as a legitimate acceptance."""
    made_on_pull_request = Commit.objects.filter(
        repo_id=OuterRef("repo_id"), oid=OuterRef("commit_oid"), made_on_pull_request=True
    )
    return acks.annotate(accepted_on_pull_request=Exists(made_on_pull_request))


def acknowledgments_for_repo(repo: Repo) -> QuerySet[Acknowledgment]:
    acks = Acknowledgment.objects.filter(repo=repo).select_related("user").order_by("-accepted_at", "-pk")
    return _with_in_force(acks)


def acknowledgments_of(user) -> QuerySet[Acknowledgment]:
    acks = Acknowledgment.objects.filter(user=user).select_related("repo").order_by("-accepted_at", "-pk")
    return _with_in_force(acks)


@dataclass(frozen=True)
class Derivative:
    repo: Repo
    license: License | None
    carries_restrictions: bool


def derivatives_of(repo: Repo, candidates: QuerySet[Repo]) -> list[Derivative]:
    """Repos among `candidates` (what the viewer may see) whose default-branch card names `repo`
    as `base_model`, with their license and whether it keeps `repo`'s use restrictions."""
    base = License.objects.filter(pk=repo.license).first() if repo.license else None
    rows = candidates.filter(tag_rows__tag=f"base_model:{repo.repo_id}").exclude(pk=repo.pk)
    rows = rows.order_by("namespace", "name")
    licenses = {row.pk: row for row in License.objects.filter(pk__in=[r.license for r in rows if r.license])}
    result = []
    for derived in rows:
        own = licenses.get(derived.license)
        carries = base is None or (own.carries_restrictions_of(base) if own else not base.has_use_restrictions)
        result.append(Derivative(repo=derived, license=own, carries_restrictions=carries))
    return result
