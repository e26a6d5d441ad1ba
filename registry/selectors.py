"""Reads over repos and history. These take a repo the policy has already returned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache

from core.bytecache import memo_by_bytes
from core.errors import BadRequest, ContentQuarantined, EntryNotFound, RevisionNotFound
from core.prepared import PreparedQuery
from registry.cards import markdown, modelcard
from registry.git import gitobjects, lfsrules, trees
from registry.models import (
    SCAN_ABANDONED_PREFIX,
    Blob,
    Commit,
    FileScan,
    QuarantinedContent,
    Ref,
    RefKind,
    Repo,
    RepoObject,
    ScanStatus,
    StoredObject,
    UploadReceipt,
)
from registry.storage import content, get_storage

SMALL_BLOB_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Resolved:
    """A revision resolved to a commit. `ref` is the Ref row when one was loaded: None for a commit
    id, and for a ref found together with the repo (`revision_candidates`)."""

    revision: str
    commit_oid: str
    tree_oid: str
    ref: Ref | None


@lru_cache(maxsize=8192)
def _commit_facts_at(repo_pk: int, history_epoch: int, oid: str) -> tuple[str, bool]:
    row = Commit.objects.filter(repo_id=repo_pk, oid=oid).values_list("tree_oid", "made_on_pull_request").first()
    if row is None:
        raise LookupError(oid)
    return row


def _commit_facts(repo: Repo, oid: str) -> tuple[str, bool]:
    """(tree id, made on a pull request): both fixed when the commit is written. A commit lives
    until a history rewrite drops it (super-squash), which moves `Repo.history_epoch`: answers
    cached in any process before that are not read again."""
    return _commit_facts_at(repo.pk, repo.history_epoch, oid)


def _commit_tree(repo: Repo, oid: str) -> str:
    return _commit_facts(repo, oid)[0]


def commit_tree_oid(repo: Repo, oid: str) -> str | None:
    try:
        return _commit_tree(repo, oid)
    except LookupError:
        return None


# Every download resolves a revision: compiled once per process (see core.prepared).
_REFS_NAMED = PreparedQuery(lambda repo_id, names: Ref.objects.filter(repo_id=repo_id, name__in=names))


def _ref_candidates(revision: str) -> list[str]:
    if revision.startswith("refs/"):
        return [revision]
    return [f"refs/heads/{revision}", f"refs/tags/{revision}"]


def _pick(refs: dict[str, Ref], revision: str) -> Ref | None:
    for name in _ref_candidates(revision):
        if name in refs:
            return refs[name]
    return None


SHORT_COMMIT_ID = re.compile(r"^[0-9a-f]{7,39}$")


def _by_commit_id(repo: Repo, revision: str) -> Resolved | None:
    """A full commit id, or an abbreviated one (7 to 39 hex digits) that exactly one commit of
    this repo starts with: never another repo's commits. The answer names the full id, so that
    everything downstream judges it as that commit (`is_contributed`), and nothing keeps the
    short id: a later commit may make it ambiguous. Ambiguity is a 400, as git refuses it."""
    if gitobjects.HEX40.match(revision):
        tree = commit_tree_oid(repo, revision)
        return None if tree is None else Resolved(revision, revision, tree, None)
    if not SHORT_COMMIT_ID.match(revision):
        return None
    # The range lets the (repo, oid) index answer; startswith keeps it exact under any collation.
    matches = list(
        Commit.objects.filter(repo_id=repo.pk, oid__gte=revision, oid__lt=revision + "g", oid__startswith=revision)
        .order_by("oid")
        .values_list("oid", "tree_oid")[:2]
    )
    if len(matches) > 1:
        raise BadRequest(
            f"Revision '{revision}' is ambiguous: more than one commit of this repo starts with it. "
            "Give more digits of the commit id."
        )
    if not matches:
        return None
    oid, tree = matches[0]
    return Resolved(oid, oid, tree, None)


def resolve_revision(repo: Repo, revision: str) -> Resolved:
    """A branch, tag, `refs/...` name, or full or abbreviated commit id; branches win over tags,
    and both over a commit id, as in git."""
    refs = {ref.name: ref for ref in _REFS_NAMED(repo_id=repo.pk, names=_ref_candidates(revision))}
    ref = _pick(refs, revision)
    if ref is not None:
        return Resolved(revision, ref.commit_oid, _commit_tree(repo, ref.commit_oid), ref)
    resolved = _by_commit_id(repo, revision)
    if resolved is not None:
        return resolved
    raise RevisionNotFound(revision)


WRITER_REF_PREFIXES = ("refs/heads/", "refs/tags/")


def is_contributed(repo: Repo, resolved: Resolved) -> bool:
    """Whether contributors without write access control what `resolved` names: a pull request's
    ref, or a commit id made on one that no branch or tag points at. Branches and tags move only
    by writers' hands. SECURITY: what such a revision says about itself (its card, its LICENSE)
    binds nobody; licenses.selectors judges it under a writer's revision instead.

    A commit id is judged by where it was made (`Commit.made_on_pull_request`, recorded when it
    is written), not by walking history: pull requests are merged as new commits on their base,
    so a pull request's commits reach a branch only if a writer branches or tags at one, and a
    ref pointing right at it is then the writer's word. A commit a writer's branch grew on top of
    later stays judged as contributed: the cautious side (the base license applies to it)."""
    ref_name = resolved.ref.name if resolved.ref is not None else resolved.revision
    if ref_name.startswith("refs/"):
        return not ref_name.startswith(WRITER_REF_PREFIXES)
    if resolved.ref is not None or resolved.revision != resolved.commit_oid:
        return False  # a branch or tag named by its short name
    _, on_pull_request = _commit_facts(repo, resolved.commit_oid)
    if not on_pull_request:
        return False
    writer_refs = Ref.objects.filter(repo=repo, commit_oid=resolved.commit_oid, kind__in=[RefKind.BRANCH, RefKind.TAG])
    return not writer_refs.exists()


@dataclass(frozen=True)
class RevisionHint:
    """The best ref among `candidates` (None: none exists), found with the repo in one query."""

    candidates: tuple[str, ...]  # immutable: cached lookups share it between requests
    ref_name: str | None
    commit_oid: str | None


def _revision_prefixes(rest: str, *, path_required: bool) -> list[str]:
    parts = rest.split("/")
    last = len(parts) - 1 if path_required else len(parts)
    return ["/".join(parts[:i]) for i in range(1, last + 1)]


def revision_candidates(rest: str, *, path_required: bool) -> list[str]:
    """The ref names '<revision>/<path>' may start with, best first: the longest prefix wins, and
    for one prefix a branch wins over a tag (as `split_revision_path` decides)."""
    prefixes = _revision_prefixes(rest, path_required=path_required)
    return [name for prefix in reversed(prefixes) for name in _ref_candidates(prefix)]


def split_revision_path(
    repo: Repo, rest: str, *, path_required: bool, hint: RevisionHint | None = None
) -> tuple[Resolved, str]:
    """Split '<revision>/<path>' where the revision itself may contain slashes ('refs/pr/3',
    'feature/x'). WSGI decodes %2F before routing, so the longest existing ref prefix wins.

    When the policy found the repo together with the best ref for these candidates (the download
    path: gating.policy.resolve_repo with `revision_candidates`), that `hint` is used: no query."""
    prefixes = _revision_prefixes(rest, path_required=path_required)
    if not prefixes:
        raise RevisionNotFound(rest)
    hinted = hint
    if hinted is not None and hinted.candidates == tuple(revision_candidates(rest, path_required=path_required)):
        if hinted.ref_name is not None and hinted.commit_oid is not None:
            prefix = next(p for p in prefixes if hinted.ref_name in _ref_candidates(p))
            tree = _commit_tree(repo, hinted.commit_oid)
            return Resolved(prefix, hinted.commit_oid, tree, None), rest[len(prefix) + 1 :]
    else:
        names = [name for prefix in prefixes for name in _ref_candidates(prefix)]
        refs = {ref.name: ref for ref in _REFS_NAMED(repo_id=repo.pk, names=names)}
        for prefix in reversed(prefixes):
            ref = _pick(refs, prefix)
            if ref is not None:
                path = rest[len(prefix) + 1 :]
                return Resolved(prefix, ref.commit_oid, _commit_tree(repo, ref.commit_oid), ref), path
    first = rest.split("/")[0]
    resolved = _by_commit_id(repo, first)
    if resolved is not None:
        return resolved, rest[len(first) + 1 :]
    raise RevisionNotFound(first)


def find_file(resolved: Resolved, path: str) -> trees.Entry:
    entry = trees.find_entry(resolved.tree_oid, path)
    if entry is None or entry["type"] != "file":
        raise EntryNotFound(commit_oid=resolved.commit_oid)
    return entry


def entry_sha256(entry: trees.Entry) -> str:
    """The content sha256 of a file entry (stored in `lfs` for LFS files, looked up otherwise)."""
    if entry.get("lfs"):
        return entry["lfs"]["sha256"]
    return _blob_sha256(entry["oid"])


@lru_cache(maxsize=16384)
def _blob_sha256(oid: str) -> str:
    sha = Blob.objects.filter(oid=oid).values_list("sha256", flat=True).first()
    if sha is None:
        raise LookupError(f"blob {oid} is missing")
    return sha


def read_small_file(entry: trees.Entry, *, repo_pk: int) -> bytes | None:
    """Content of a small file (README.md, .gitattributes) of a tree of repo `repo_pk`; None if it
    is too large to inline. Raises ContentQuarantined for content never proven to be the repo's."""
    if entry["size"] > SMALL_BLOB_LIMIT:
        return None
    sha256 = entry_sha256(entry)
    content.require_in_repo(repo_pk, sha256)
    return content.read_head(sha256, entry["size"])


def read_text_at(tree_oid: str, path: str, *, repo_pk: int) -> str | None:
    entry = trees.find_entry(tree_oid, path)
    if entry is None or entry["type"] != "file":
        return None
    data = read_small_file(entry, repo_pk=repo_pk)
    return None if data is None else data.decode("utf-8", "replace")


# Memory each process may spend on parsed cards (their metadata can be large).
CARD_CACHE_BYTES = 4 * 1024**2


@memo_by_bytes(CARD_CACHE_BYTES)
def card_summary_at(repo_pk: int, tree_oid: str) -> modelcard.CardSummary:
    """Parsed card of a tree of a repo. Trees are immutable, so the result is cached; callers
    must not mutate it. Keyed by the repo too: content is read only where it was proven to
    belong (`content.require_in_repo`), so one repo's answer is never another's."""
    text = read_text_at(tree_oid, "README.md", repo_pk=repo_pk)
    if not text:
        return modelcard.CardSummary()
    try:
        return modelcard.summarize(modelcard.parse_metadata(text))
    except modelcard.CardError:
        return modelcard.CardSummary()


def card_html_at(tree_oid: str, *, repo_pk: int) -> str:
    """README.md of a tree of repo `repo_pk` as sanitised HTML ('' for none). A blob never
    changes, so its HTML is cached by (renderer and its bounds, repo, blob): one render per README
    and repo, whichever commits share it, and none per page view.

    SECURITY: the repo is part of the key, and the proof that the content belongs to the repo
    is checked before the cache is read, on every call (ContentQuarantined otherwise)."""
    entry = trees.find_entry(tree_oid, "README.md")
    if entry is None or entry["type"] != "file" or entry["size"] > SMALL_BLOB_LIMIT:
        return ""
    content.require_in_repo(repo_pk, entry_sha256(entry))
    bounds = f"{settings.GATEHOUSE_MARKDOWN_MAX_BYTES}:{settings.GATEHOUSE_MARKDOWN_BUDGET_S}"
    key = f"card-html:{markdown.RENDERER_VERSION}:{bounds}:{repo_pk}:{entry['oid']}"
    html = cache.get(key)
    if html is None:
        data = read_small_file(entry, repo_pk=repo_pk)
        html = markdown.render_card(data.decode("utf-8", "replace")) if data else ""
        cache.set(key, html, settings.GATEHOUSE_RENDER_CACHE_SECONDS)
    return html


# Files whose download marks a download of the whole repo, as on the Hub (diffusers: model_index).
QUERY_FILES = ("config.json", "model_index.json")


def counts_as_download(path: str, tree_oid: str) -> bool:
    """As on the Hub: a GET of the repo's query file, or of any file where there is none."""
    if path in QUERY_FILES:
        return True
    # A repo without a query file counts a download of any of its files.
    root = trees.tree_index(tree_oid)
    return not any(name in root for name in QUERY_FILES)


def list_refs(repo: Repo) -> dict[str, list[Ref]]:
    grouped: dict[str, list[Ref]] = {kind: [] for kind in RefKind.values}
    for ref in Ref.objects.filter(repo=repo).order_by("name"):
        grouped[ref.kind].append(ref)
    return grouped


def history(repo: Repo, head_oid: str, *, offset: int, limit: int) -> tuple[list[Commit], bool]:
    """Commits reachable from `head_oid` by first parents, newest first; and whether more follow."""
    parents = dict(Commit.objects.filter(repo=repo).values_list("oid", "parent_oids"))
    chain: list[str] = []
    current: str | None = head_oid
    while current is not None and current in parents and len(chain) < offset + limit + 1:
        chain.append(current)
        current = parents[current][0] if parents[current] else None
    page = chain[offset : offset + limit]
    rows = {commit.oid: commit for commit in Commit.objects.filter(repo=repo, oid__in=page).select_related("author")}
    return [rows[oid] for oid in page], len(chain) > offset + limit


def _entry_oid(tree_oid: str | None, path: str) -> str | None:
    if tree_oid is None:
        return None
    entry = trees.find_entry(tree_oid, path)
    return entry["oid"] if entry else None


def last_commits(repo: Repo, head_oid: str, paths: list[str], *, max_walk: int = 2000) -> dict[str, Commit]:
    """For each path, the newest commit (by first parents) that changed it."""
    rows = {
        commit.oid: commit
        for commit in Commit.objects.filter(repo=repo).only("oid", "tree_oid", "parent_oids", "title", "created_at")
    }
    found: dict[str, Commit] = {}
    pending = set(paths)
    current = rows.get(head_oid)
    walked = 0
    while current is not None and pending and walked < max_walk:
        parent = rows.get(current.parent_oids[0]) if current.parent_oids else None
        parent_tree = parent.tree_oid if parent else None
        for path in list(pending):
            if _entry_oid(current.tree_oid, path) != _entry_oid(parent_tree, path):
                found[path] = current
                pending.discard(path)
        current = parent
        walked += 1
    return found


def gitattributes_at(repo: Repo, revision: str) -> str:
    """The `.gitattributes` text at a revision, for the LFS decision. A revision without one (a
    branch about to be created, an empty repo, a repo whose file was deleted) gets the Hub's
    default rules; quarantined content reads as '' (uploading files, that one included, must
    still work)."""
    try:
        resolved = resolve_revision(repo, revision)
    except RevisionNotFound:
        return lfsrules.DEFAULT_GITATTRIBUTES
    try:
        text = read_text_at(resolved.tree_oid, ".gitattributes", repo_pk=repo.pk)
    except ContentQuarantined:
        return ""
    return lfsrules.DEFAULT_GITATTRIBUTES if text is None else text


def gitignore_at(repo: Repo, revision: str) -> str:
    """The `.gitignore` text at the root of a revision ('' when absent, unreadable or too large)."""
    try:
        resolved = resolve_revision(repo, revision)
        return read_text_at(resolved.tree_oid, ".gitignore", repo_pk=repo.pk) or ""
    except (RevisionNotFound, ContentQuarantined):
        return ""


def quarantined_files(repo: Repo, resolved: Resolved) -> list[str]:
    """Paths at `resolved` whose content is quarantined (see registry.ops.aliasing), for the repo's
    writers: uploading each file again restores it."""

    held = set(QuarantinedContent.objects.filter(repo=repo).values_list("sha256", flat=True))
    if not held:
        return []
    return [path for path, entry in trees.iter_files(resolved.tree_oid) if entry_sha256(entry) in held]


def scans_for(sha256s) -> dict:
    return {scan.sha256: scan for scan in FileScan.objects.filter(sha256__in=set(sha256s))}


def security_status(entry: trees.Entry, scans: dict) -> dict:
    """`securityFileStatus` as the Hub client reads it (`RepoFile.security`, whose `safe` is
    `status == "safe"`). Content with no scan on record was never read by the scanner: it is
    `unscanned`, never safe (every commit queues a scan of every file it adds; older content is
    queued by migration 0012)."""
    scan = scans.get(entry_sha256(entry))
    if scan is None:
        return {"status": "unscanned", "avScan": {"status": "unscanned"}, "pickleImportScan": None}
    return {
        "status": scan.status,
        "avScan": {"status": "unscanned"},
        "pickleImportScan": {"status": scan.status, "imports": scan.imports, "message": scan.message},
    }


def scan_is_due(scan: FileScan) -> bool:
    """Queued, or given up on while its task was only waiting in a long queue: when that task
    finally runs, it scans, rather than leave the file `error` until someone rescans it."""
    return scan.status == ScanStatus.QUEUED or (
        scan.status == ScanStatus.ERROR and scan.message.startswith(SCAN_ABANDONED_PREFIX)
    )


def repo_purge_due(*, repo: Repo) -> datetime:
    """When a deleted repo is purged for good (`repos_purge_deleted`), and its name freed."""
    assert repo.deleted_at is not None
    return repo.deleted_at + timedelta(days=settings.GATEHOUSE_REPO_DELETE_GRACE_DAYS)


def repo_holds(*, repo: Repo, oid: str, size: int) -> bool:
    """SECURITY: "already stored" only for content this repo may reference; anything else must
    be uploaded again (proof of possession), even if the store has it for another repo. The LFS
    batch and verify calls both answer from this, so neither confirms that another repo holds a
    hash."""
    return (
        RepoObject.objects.filter(repo=repo, sha256=oid).exists()
        and StoredObject.objects.filter(sha256=oid, size=size).exists()
        and get_storage().exists(oid)
    )


def sender_holds(*, repo: Repo, user_id: int, oid: str, size: int) -> bool:
    """`repo_holds` for a contributor without write access: only content they uploaded to this
    repo themselves counts (UploadReceipt), as `blob_stage_stored` decides for their commits.
    SECURITY: so their batch calls tell them nothing about what else the repo holds."""
    return (
        UploadReceipt.objects.filter(repo=repo, user_id=user_id, sha256=oid).exists()
        and StoredObject.objects.filter(sha256=oid, size=size).exists()
        and get_storage().exists(oid)
    )
