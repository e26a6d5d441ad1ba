"""Bookkeeping of verified uploads (LFS, Xet): which repo may reference which content, and who sent it."""

from __future__ import annotations

from django.db import transaction

from registry.models import QuarantinedContent, RepoObject, StoredObject, UploadReceipt


@transaction.atomic
def upload_record(*, sha256: str, size: int, repo_id: int, user_id: int | None, by_writer: bool) -> StoredObject:
    """An LFS object was verified and published in the store: its StoredObject row (made if new),
    then the repo's and the sender's records of it (`upload_receipt_record`)."""
    obj, _ = StoredObject.objects.get_or_create(sha256=sha256, defaults={"size": size})
    upload_receipt_record(repo_id=repo_id, sha256=sha256, user_id=user_id, by_writer=by_writer)
    return obj


@transaction.atomic
def upload_receipt_record(*, repo_id: int, sha256: str, user_id: int | None, by_writer: bool) -> None:
    """Verified bytes of `sha256` were sent for this repo (an LFS object, or a Xet file whose own
    rows xet.services keeps): their sender may commit them to a pull request (UploadReceipt).

    `by_writer` (someone who may write the repo's branches, or the hub itself): the repo may
    reference them too (RepoObject), and a deletion of that content (QuarantinedContent) is
    lifted. SECURITY: a contributor's upload does neither: their bytes prove possession for their
    own commits only, and content an admin deleted stays deleted whoever sends it again."""
    if by_writer:
        RepoObject.objects.get_or_create(repo_id=repo_id, sha256=sha256)
        QuarantinedContent.objects.filter(repo_id=repo_id, sha256=sha256).delete()  # proven now
    if user_id is not None:
        UploadReceipt.objects.get_or_create(repo_id=repo_id, user_id=user_id, sha256=sha256)
