"""History and storage housekeeping: squashing a branch's history, and deleting LFS content for
good (`super_squash_history`, `permanently_delete_lfs_files`)."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.errors import BadRequest, EntryNotFound, RevisionNotFound
from registry import hooks
from registry.models import Commit, QuarantinedContent, Ref, RefKind, Repo, RepoObject, UploadReceipt
from registry.services.commits import _clean_message, _write_commit
from registry.storage import content
from registry.storage.usage import repo_contents

_PULL_REQUEST_REF = re.compile(r"^refs/pr/[1-9][0-9]{0,8}$")
MAX_DELETIONS = 1000


def _unreachable_commits_delete(repo: Repo) -> int:
    """Delete the repo's commits that no ref reaches; how many. The caller holds the ref's lock."""
    parents = dict(Commit.objects.filter(repo=repo).values_list("oid", "parent_oids"))
    reachable: set[str] = set()
    stack = list(Ref.objects.filter(repo=repo).values_list("commit_oid", flat=True))
    while stack:
        oid = stack.pop()
        if oid in reachable or oid not in parents:
            continue
        reachable.add(oid)
        stack.extend(parents[oid])
    gone = [oid for oid in parents if oid not in reachable]
    for start in range(0, len(gone), 1000):
        Commit.objects.filter(repo=repo, oid__in=gone[start : start + 1000]).delete()
    return len(gone)


def squashable_ref_name(repo: Repo, branch: str) -> str:
    """The full ref name of a branch (`main`, `refs/heads/main`) or of a pull request's ref
    (`refs/pr/3`). A tag, or another `refs/` name, is the Hub's 400."""
    if _PULL_REQUEST_REF.match(branch):
        return branch
    name = branch.removeprefix("refs/heads/")
    if name.startswith("refs/"):
        raise BadRequest("Invalid reference for a branch")
    if not Ref.objects.filter(repo=repo, name=f"refs/heads/{name}").exists():
        if Ref.objects.filter(repo=repo, name=f"refs/tags/{name}").exists():
            raise BadRequest("Invalid reference for a branch")
        raise RevisionNotFound(name)
    return f"refs/heads/{name}"


@transaction.atomic
def history_squash(*, repo: Repo, ref_name: str, message: str, author: User) -> Commit:
    """Replace the history of `ref_name` by one root commit holding its head's tree.

    Tags and other refs (refs/pr/N of pull requests included) that point into the old history
    keep it: their commits stay, and their content stays referenced. The old commits no ref
    reaches any more are deleted (what squashing is for): their ids answer RevisionNotFound, in
    every process (`Repo.history_epoch`), and content only they named goes with `gc_blobs`."""
    message = _clean_message(message, "")
    ref = Ref.objects.select_for_update().filter(repo=repo, name=ref_name).first()
    if ref is None or ref.kind == RefKind.TAG:
        raise RevisionNotFound(ref_name.removeprefix("refs/heads/"))
    head = Commit.objects.get(repo=repo, oid=ref.commit_oid)
    commit = _write_commit(
        repo=repo,
        tree_oid=head.tree_oid,
        parents=[],
        author=author,
        summary=message,
        description="",
        on_pull_request=ref_name.startswith("refs/pr/"),
    )
    ref.commit_oid = commit.oid
    ref.save(update_fields=["commit_oid", "updated_at"])
    _unreachable_commits_delete(repo)
    Repo.objects.filter(pk=repo.pk).update(last_modified=commit.created_at, history_epoch=F("history_epoch") + 1)
    for listener in hooks.history_changed:
        listener(repo, author, "repo.super_squash", {"ref": ref_name, "from": head.oid, "to": commit.oid})
    hooks.repo_event_emit(  # the ref moved: a content event, as for a push (webhooks)
        hooks.RepoEvent(
            repo_pk=repo.pk,
            scope="repo.content",
            action="update",
            actor_pk=author.pk,
            updated_refs=((ref_name, head.oid, commit.oid),),
        )
    )
    return commit


def validate_sha256_list(value: object) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_DELETIONS:
        raise BadRequest(f"'deletions.sha' must be a list of 1 to {MAX_DELETIONS} sha256 ids.")
    if not all(isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) for sha in value):
        raise BadRequest("'deletions.sha' must hold sha256 ids (64 lowercase hex digits).")
    return list(dict.fromkeys(value))


@transaction.atomic
def lfs_files_delete(*, repo: Repo, sha256s: list[str], actor: User) -> int:
    """Take LFS content away from the repo for good: its proof of possession (`RepoObject`, every
    `UploadReceipt`) goes, and a `QuarantinedContent` row says the file was deleted. From then on
    no revision of the repo serves it (410), no commit may name it again without uploading the
    bytes anew, and the garbage collector removes the bytes once no other repo holds them.
    History is not rewritten: commit ids, tags and refs/pr/N stay as they were."""
    held = {sha: item for sha, item in repo_contents(repo).items() if item.is_lfs}
    missing = [sha for sha in sha256s if sha not in held]
    if missing:
        raise EntryNotFound(f"LFS file {missing[0]} not found in {repo.repo_id}.")
    when = timezone.now()
    RepoObject.objects.filter(repo=repo, sha256__in=sha256s).delete()
    UploadReceipt.objects.filter(repo=repo, sha256__in=sha256s).delete()
    reason = f"Permanently deleted by {actor.username} on {when:%Y-%m-%d %H:%M} UTC"
    for sha in sha256s:
        QuarantinedContent.objects.update_or_create(
            repo=repo, sha256=sha, defaults={"size": held[sha].size, "reason": reason}
        )
    # Now (a read racing the commit may cache the proof again) and once committed.
    content.forget_proofs(repo.pk, sha256s)
    transaction.on_commit(lambda: content.forget_proofs(repo.pk, sha256s))
    for listener in hooks.history_changed:
        listener(repo, actor, "repo.lfs_files_delete", {"sha256": sha256s, "paths": [held[s].path for s in sha256s]})
    return len(sha256s)
