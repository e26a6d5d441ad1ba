"""Bookkeeping of verified uploads (LFS, Xet): which repo may reference which content, and who sent it."""

from __future__ import annotations

from registry.models import QuarantinedContent, RepoObject, StoredObject, UploadReceipt


def upload_record(*, sha256: str, size: int, repo_id: int, user_id: int | None = None) -> StoredObject:
    """The bytes were received (and verified) for this repo, from this user: the repo may now
    reference them, and the user may commit them to a pull request (UploadReceipt)."""
    obj, _ = StoredObject.objects.get_or_create(sha256=sha256, defaults={"size": size})
    upload_receipt_record(repo_id=repo_id, sha256=sha256, user_id=user_id)
    return obj


def upload_receipt_record(*, repo_id: int, sha256: str, user_id: int | None) -> None:
    """Verified bytes of `sha256` arrived for this repo (LFS or Xet): the repo may reference them
    (RepoObject), and their sender may commit them to a pull request (UploadReceipt)."""
    RepoObject.objects.get_or_create(repo_id=repo_id, sha256=sha256)
    QuarantinedContent.objects.filter(repo_id=repo_id, sha256=sha256).delete()  # proven now
    if user_id is not None:
        UploadReceipt.objects.get_or_create(repo_id=repo_id, user_id=user_id, sha256=sha256)
