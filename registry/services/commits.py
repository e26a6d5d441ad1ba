"""Creating commits: all-or-nothing, serialised per branch, with git-exact object ids.

File content is written to the blob store *before* the database transaction (blob writes are
atomic and content-addressed, so an aborted commit leaves at most an unreferenced object for the
garbage collector). The transaction locks the branch ref, checks `parent_commit`, builds the new
trees, and moves the ref, so concurrent commits to one branch queue up and history stays linear.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core import faults
from core.errors import BadRequest, Conflict, ContentQuarantined, EntryNotFound, PreconditionFailed, RevisionNotFound
from registry import hooks, limits, secrets
from registry.cards.metadata_validation import check_card_at
from registry.git import gitobjects, lfsrules, trees
from registry.git.paths import validate_folder, validate_new_path, validate_path
from registry.metrics import COMMITS
from registry.models import (
    Blob,
    Commit,
    QuarantinedContent,
    Ref,
    RefKind,
    Repo,
    RepoObject,
    StoredObject,
    UploadReceipt,
)
from registry.selectors import entry_sha256
from registry.services.metadata import repo_metadata_refresh
from registry.services.scans import scans_request
from registry.storage import SHA256_RE, content, get_storage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddFile:
    """A file whose content is already in the blob store."""

    path: str
    sha256: str
    size: int
    is_lfs: bool
    blob_oid: str  # git id: of the content for regular files, of the pointer for LFS files


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


CommitOperation = AddFile | DeleteFile | DeleteFolder


def blob_stage(
    *,
    repo: Repo | None,
    path: str,
    content: bytes,
    lfs: bool | None = None,
    gitattributes: str = "",
    proof_from: User | None,
) -> AddFile:
    """Store `content` and describe it as an addition. `lfs=None` applies the Hub's rules.

    SECURITY: content shaped as a Git LFS pointer is a reference to other content, as git-lfs
    treats it, and needs the same proof of possession as an `lfsFile` line (`blob_stage_stored`):
    otherwise a "regular" pointer file would share its git id with the LFS entry of a gated repo.
    `repo=None` (a repo being created) accepts no pointer at all."""
    validate_new_path(path)
    if (pointer := gitobjects.read_as_lfs_pointer(content)) is not None:
        return _stage_pointer(repo=repo, path=path, pointer=pointer, proof_from=proof_from)
    if lfs is None:
        lfs = lfsrules.should_use_lfs(
            path=path,
            size=len(content),
            sample=content[:512],
            gitattributes=gitattributes,
            text_max=settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES,
        )
    sha256 = get_storage().put_bytes(content)
    StoredObject.objects.get_or_create(sha256=sha256, defaults={"size": len(content)})
    oid = gitobjects.blob_id(gitobjects.lfs_pointer(sha256, len(content)) if lfs else content)
    return AddFile(path=path, sha256=sha256, size=len(content), is_lfs=lfs, blob_oid=oid)


def blob_stage_stream(
    *, repo: Repo, path: str, stream, size: int, gitattributes: str = "", proof_from: User | None
) -> AddFile:
    """Like `blob_stage` for uploads from the portal: streamed to the blob store, never held whole
    in memory. The git blob id is hashed alongside the sha256 as the bytes go by."""
    validate_new_path(path)
    head = stream.read(512 if size > gitobjects.LFS_POINTER_MAX else gitobjects.LFS_POINTER_MAX + 1)
    if size <= gitobjects.LFS_POINTER_MAX:
        return blob_stage(
            repo=repo, path=path, content=head, gitattributes=gitattributes, proof_from=proof_from
        )  # small enough to hold: the pointer rule applies (a pointer is never larger)
    lfs = lfsrules.should_use_lfs(
        path=path,
        size=size,
        sample=head,
        gitattributes=gitattributes,
        text_max=settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES,
    )
    blob_hash = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with get_storage().writer(expected_size=size) as writer:
        for chunk in _chunks(head, stream):
            blob_hash.update(chunk)
            writer.write(chunk)
        sha256 = writer.commit()
    StoredObject.objects.get_or_create(sha256=sha256, defaults={"size": size})
    oid = gitobjects.blob_id(gitobjects.lfs_pointer(sha256, size)) if lfs else blob_hash.hexdigest()
    return AddFile(path=path, sha256=sha256, size=size, is_lfs=lfs, blob_oid=oid)


def blob_stage_entry(*, repo: Repo, path: str, entry: trees.Entry) -> AddFile:
    """A file of another revision of the same repo, as an addition (a pull request's file when it
    is merged). SECURITY: the content must be proven to belong to the repo: a revision written by
    an older version may name content the repo never held (`content.require_in_repo`, 410)."""
    validate_new_path(path)
    sha256 = entry_sha256(entry)
    if not content.belongs_to_repo(repo.pk, sha256):
        raise ContentQuarantined(
            f"'{path}' is quarantined: its content was never proven to belong to this repo. "
            "Upload the file again before merging."
        )
    return AddFile(path=path, sha256=sha256, size=entry["size"], is_lfs=bool(entry.get("lfs")), blob_oid=entry["oid"])


def blob_stage_uploads(
    *, repo: Repo, files: list[tuple[str, UploadedFile]], gitattributes: str = "", proof_from: User | None
) -> list[AddFile]:
    """Files from a browser form, as (path in the repo, upload) pairs. Every path and the upload
    limits are checked on the sizes the form declared before the first byte is stored, so a
    refused form stores nothing."""
    paths = limits.check_uploads(files)
    return [
        blob_stage_stream(
            repo=repo,
            path=path,
            stream=upload,
            size=upload.size or 0,
            gitattributes=gitattributes,
            proof_from=proof_from,
        )
        for path, (_, upload) in zip(paths, files, strict=True)
    ]


def _stage_pointer(*, repo: Repo | None, path: str, pointer: tuple[str, int], proof_from: User | None) -> AddFile:
    sha256, size = pointer
    if repo is None:
        raise BadRequest(f"'{path}' is a Git LFS pointer; a new repo's first files cannot refer to other content.")
    return blob_stage_stored(repo=repo, path=path, sha256=sha256, size=size, proof_from=proof_from, as_pointer=True)


def _chunks(head: bytes, stream, chunk_size: int = 1024 * 1024):
    if head:
        yield head
    while chunk := stream.read(chunk_size):
        yield chunk


def blob_stage_stored(
    *, repo: Repo, path: str, sha256: str, size: int | None = None, proof_from: User | None, as_pointer: bool = False
) -> AddFile:
    """An LFS addition of content already uploaded to `repo`, or already committed to it (the
    `lfsFile` commit line, or a file whose content is a Git LFS pointer: `as_pointer`). See
    RepoObject for why other content is refused.

    SECURITY: `proof_from` has no default, so every caller says whose upload proves possession:
    a contributor without write access may add only content they uploaded (UploadReceipt); None
    for writers and the hub's own commits, who may reference anything the repo holds."""
    validate_new_path(path)
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise BadRequest(f"'{path}': invalid LFS object id; expected a sha256 in lowercase hex.")
    stored = StoredObject.objects.filter(sha256=sha256).first()
    # The same refusal whether or not the content is stored elsewhere: no existence oracle.
    kind = "is a Git LFS pointer to" if as_pointer else "refers to"
    # A contributor's refusal does not depend on whether the repo holds the content either: anyone
    # who may open a pull request would otherwise learn which hashes a repo holds.
    if proof_from is not None:
        held = UploadReceipt.objects.filter(repo=repo, user=proof_from, sha256=sha256).exists()
        refusal = (
            f"'{path}' {kind} LFS object {sha256}, which was not uploaded by you: a pull request may only add "
            "large files whose content you uploaded to this repo. Upload the file itself rather than referring to it."
        )
    else:
        held = RepoObject.objects.filter(repo=repo, sha256=sha256).exists()
        refusal = (
            f"'{path}' {kind} LFS object {sha256}, which was never uploaded to this repo; "
            "upload the file's content before committing."
        )
    if stored is None or not held:
        raise BadRequest(refusal)
    if size is not None and stored.size != size:
        raise BadRequest(f"LFS object {sha256} for '{path}' has size {stored.size}, not {size}.")
    oid = gitobjects.blob_id(gitobjects.lfs_pointer(sha256, stored.size))
    return AddFile(path=path, sha256=sha256, size=stored.size, is_lfs=True, blob_oid=oid)


def _signature(user: User | None, when: int) -> gitobjects.Signature:
    if user is None:
        return gitobjects.Signature("gatehouse", "gatehouse@localhost", when)
    email = user.email or f"{user.username}@users.noreply.gatehouse"
    return gitobjects.Signature(user.username, email, when)


def _apply(root: trees.MutableTree, operations: list[CommitOperation]) -> list[AddFile]:
    added: list[AddFile] = []
    for op in operations:
        if isinstance(op, AddFile):  # its path was validated where it was staged
            entry = trees.file_entry(
                name=op.path.rsplit("/", 1)[-1], oid=op.blob_oid, size=op.size, sha256=op.sha256, is_lfs=op.is_lfs
            )
            root.set_file(op.path, entry)
            added.append(op)
        elif isinstance(op, DeleteFile):
            path = validate_path(op.path)
            # A folder named without its trailing '/' (`delete_file("folder")`) goes as a whole,
            # as on the Hub.
            if not isinstance(root.get(path), dict | trees.MutableTree) or not root.remove(path):
                raise EntryNotFound("A file with this name doesn't exist", commit_oid=None)
        elif isinstance(op, DeleteFolder):
            path = validate_folder(op.path)
            if not isinstance(root.get(path), trees.MutableTree) or not root.remove(path):
                raise EntryNotFound(f"A folder named '{path}' doesn't exist", commit_oid=None)
    return added


def _claim_objects(added: list[AddFile]) -> None:
    """Lock, check and touch the stored objects this commit adds (see registry.ops.gc)."""
    hashes = {op.sha256 for op in added}
    if not hashes:
        return
    rows = StoredObject.objects.select_for_update().filter(sha256__in=hashes)
    present = {sha256: xet_hash for sha256, xet_hash in rows.values_list("sha256", "xet_hash")}
    storage = get_storage()
    for op in added:
        if op.sha256 not in present or not (present[op.sha256] or storage.exists(op.sha256)):
            raise BadRequest(f"The content of '{op.path}' ({op.sha256}) is not stored; upload it again.")
    rows.update(touched_at=timezone.now())


def _lock_branch(repo: Repo, ref_name: str) -> Ref | None:
    return Ref.objects.select_for_update().filter(repo=repo, name=ref_name).first()


def _check_parent(ref: Ref | None, parent_commit: str | None) -> None:
    """The branch head must be `parent_commit`; else 412. Its form was checked where the request
    was read (`registry.git.paths.validate_parent_commit`, in registry.api.commit before any
    content is stored); every other caller passes a commit id of its own (a pull request's merge)."""
    if parent_commit is None:
        return
    head = ref.commit_oid if ref else ""
    if not head.startswith(parent_commit.lower()):
        # The Hub's words, which scripts match on to retry.
        raise PreconditionFailed("A commit has happened since. Please refresh and try again.")


@transaction.atomic
def commit_push(
    *,
    repo: Repo,
    branch: str,
    ref_name: str,
    create_pr: bool,
    operations: list[CommitOperation],
    summary: str,
    description: str,
    author: User,
    parent_commit: str | None,
) -> tuple[Commit, str]:
    """The commit endpoint's write: `commit_create`, or with `create_pr` a pull request opened
    against `branch` (through `hooks.pull_requests`) with this as its first commit, both or
    neither. Returns the commit and the ref it landed on. `parent_commit` was validated where
    the request was read (before any content was stored)."""
    if create_pr:
        if hooks.pull_requests is None:
            raise BadRequest("Pull requests are not supported by this hub.")
        ref_name = hooks.pull_requests.open_for_commit(
            repo=repo,
            author=author,
            base_branch=branch,
            parent_commit=parent_commit,
            title=summary,
            description=description,
        )
        branch, parent_commit = ref_name, None
    commit = commit_create(
        repo=repo,
        branch=branch,
        ref_name=ref_name,
        operations=operations,
        summary=summary,
        description=description,
        author=author,
        parent_commit=parent_commit,
    )
    return commit, ref_name


@transaction.atomic
def commit_create(
    *,
    repo: Repo,
    branch: str,
    operations: list[CommitOperation],
    summary: str,
    description: str = "",
    author: User | None,
    parent_commit: str | None = None,
    ref_name: str | None = None,
    create_branch: bool = False,
) -> Commit:
    """Commit `operations` on top of `branch` (or the full `ref_name`, e.g. refs/pr/3)."""
    faults.point("commit.after_staging")
    summary = _clean_message(summary, description)
    ref_name = ref_name or f"refs/heads/{branch}"
    ref = _lock_branch(repo, ref_name)
    if ref is None and not create_branch:
        raise RevisionNotFound(branch)
    _check_parent(ref, parent_commit)
    parent_tree = Commit.objects.get(repo=repo, oid=ref.commit_oid).tree_oid if ref else None
    tree_oid, added = _build_tree(repo, parent_tree, operations)
    commit_check(repo=repo, ref_name=ref_name, tree_oid=tree_oid, parent_tree_oid=parent_tree, author=author)
    commit = _write_commit(
        repo=repo,
        tree_oid=tree_oid,
        parents=[ref.commit_oid] if ref else [],
        author=author,
        summary=summary,
        description=description,
        on_pull_request=ref_name.startswith("refs/pr/"),
    )
    ref_land(repo=repo, ref=ref, ref_name=ref_name, commit=commit, added=added, author=author)
    return commit


def commit_check(*, repo: Repo, ref_name: str, tree_oid: str, parent_tree_oid: str | None, author: User | None) -> None:
    """The checks every new commit passes before its ref moves, whichever way it came (the commit
    API, the portal, a git push): the card's metadata, no access token in text (registry.secrets)
    and the apps' `hooks.commit_checks`
    (licenses, derivatives). The new trees and blobs are stored, so checks may read them."""
    context = hooks.CommitContext(
        repo=repo, ref_name=ref_name, tree_oid=tree_oid, parent_tree_oid=parent_tree_oid, author=author
    )
    check_card_at(repo_pk=repo.pk, tree_oid=tree_oid, parent_tree_oid=parent_tree_oid)
    secrets.check_no_tokens(tree_oid=tree_oid, parent_tree_oid=parent_tree_oid)
    for check in hooks.commit_checks:
        check(context)


def ref_land(
    *, repo: Repo, ref: Ref | None, ref_name: str, commit: Commit, added: list[AddFile], author: User | None
) -> None:
    """Move `ref_name` (locked as `ref`, or new when None) to `commit`, checked and written, and
    everything a moved branch entails: the repo's metadata, scans of the added files, the apps'
    `commit_listeners`, the webhooks' event and the metrics. The one ref move of every commit
    (commit API, portal, pull request merges, git push)."""
    old_oid = ref.commit_oid if ref else None
    _move_ref(repo, ref, ref_name, commit)
    faults.point("commit.in_ref_txn")
    if ref_name == f"refs/heads/{repo.default_branch}":
        repo_metadata_refresh(repo=repo, tree_oid=commit.tree_oid)
    Repo.objects.filter(pk=repo.pk).update(last_modified=commit.created_at)
    scans_request(files=[(op.sha256, op.path) for op in added])
    for listener in hooks.commit_listeners:
        listener(repo=repo, ref_name=ref_name, commit=commit)
    if old_oid is not None:  # a repo's first commit is part of its creation ("repo" "create")
        hooks.repo_event_emit(
            hooks.RepoEvent(
                repo_pk=repo.pk,
                scope="repo.content",
                action="update",
                actor_pk=author.pk if author else None,
                updated_refs=((ref_name, old_oid, commit.oid),),
            )
        )
    target = "pull_request" if ref_name.startswith("refs/pr/") else "branch"
    transaction.on_commit(COMMITS.labels(target).inc)
    faults.point_after_commit("commit.after_ref_moved")


def _clean_message(summary: str, description: str) -> str:
    summary = (summary or "").strip()
    if not summary:
        raise BadRequest("A commit needs a summary.")
    if len(summary) > 1000 or len(description) > 65536:
        raise BadRequest("The commit summary or description is too long.")
    return summary


def _build_tree(repo: Repo, parent_tree: str | None, operations: list[CommitOperation]) -> tuple[str, list[AddFile]]:
    """The new root tree (saved) and the files added. Blob rows are written too, so that commit
    checks can read the new files (a refused commit rolls them back with the rest)."""
    root = trees.MutableTree(parent_tree)
    added = _apply(root, operations)
    tree_oid, new_trees = trees.write_root(root)
    objects_store(repo=repo, new_trees=new_trees, added=added)
    return tree_oid, added


def objects_store(*, repo: Repo, new_trees: dict[str, list[trees.Entry]], added: list[AddFile]) -> None:
    """Inside a commit's transaction: claim the stored content of `added` for the repo and store
    the new trees and blob rows (shared by git id; a difference is refused, never taken over).

    SECURITY: content an admin deleted from the repo (QuarantinedContent) gets no proof back by
    being committed (a contributor's pull request may name bytes they uploaded again): only a
    writer's upload lifts a deletion (`upload_receipt_record`); until then it stays unserved."""
    _claim_objects(added)
    sha256s = {op.sha256 for op in added}
    deleted = set(QuarantinedContent.objects.filter(repo=repo, sha256__in=sha256s).values_list("sha256", flat=True))
    RepoObject.objects.bulk_create(
        [RepoObject(repo=repo, sha256=sha) for sha in sha256s - deleted], ignore_conflicts=True
    )
    try:
        trees.save_trees(new_trees)
        _save_blobs(added)
    except trees.TreeConflict as exc:
        logger.error("Commit to repo %s refused: %s (run `manage.py registry_fsck`)", repo.pk, exc)
        raise Conflict("This commit conflicts with stored history; the operator has been told. Try again later.")


def _save_blobs(added: list[AddFile]) -> None:
    """Blob rows are shared by git id like trees, and for the same reason a difference is an error."""
    wanted = {op.blob_oid: (op.size, op.sha256, op.is_lfs) for op in added}
    Blob.objects.bulk_create(
        [Blob(oid=oid, size=size, sha256=sha256, is_lfs=is_lfs) for oid, (size, sha256, is_lfs) in wanted.items()],
        ignore_conflicts=True,
    )
    stored = Blob.objects.filter(oid__in=list(wanted)).values_list("oid", "size", "sha256", "is_lfs")
    for oid, *fields in stored:
        if tuple(fields) != wanted[oid]:
            raise trees.TreeConflict(f"blob {oid} is stored with other content")


def _write_commit(
    *,
    repo: Repo,
    tree_oid: str,
    parents: list[str],
    author: User | None,
    summary: str,
    description: str,
    on_pull_request: bool,
) -> Commit:
    now = int(time.time())
    signature = _signature(author, now)
    message = gitobjects.commit_message(summary, description)
    raw = gitobjects.encode_commit(
        tree=tree_oid, parents=parents, author=signature, committer=signature, message=message
    )
    # An identical commit (same tree, parent, author, second and message) has the same id, as in
    # git; it can only come from two branches forked at one parent, and is then shared.
    commit, _ = Commit.objects.get_or_create(
        repo=repo,
        oid=gitobjects.commit_id(raw),
        defaults={
            "tree_oid": tree_oid,
            "parent_oids": parents,
            "author": author,
            "author_name": signature.name,
            "title": summary.splitlines()[0],
            "message": message,
            "created_at": datetime.fromtimestamp(now, tz=UTC),
            "raw": raw,
            "made_on_pull_request": on_pull_request,
        },
    )
    return commit


def _move_ref(repo: Repo, ref: Ref | None, ref_name: str, commit: Commit) -> None:
    if ref is None:
        kind = RefKind.PULL_REQUEST if ref_name.startswith("refs/pr/") else RefKind.BRANCH
        Ref.objects.create(repo=repo, name=ref_name, kind=kind, commit_oid=commit.oid)
    else:
        ref.commit_oid = commit.oid
        ref.save(update_fields=["commit_oid", "updated_at"])
