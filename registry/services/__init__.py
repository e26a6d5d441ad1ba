"""Every write to repos and their history. Import from here: `from registry import services`."""

from registry.services.commits import (
    AddFile,
    CommitOperation,
    DeleteFile,
    DeleteFolder,
    blob_stage,
    blob_stage_entry,
    blob_stage_stored,
    blob_stage_stream,
    blob_stage_uploads,
    commit_create,
    commit_push,
)
from registry.services.downloads import repo_downloads_flush, repo_downloads_increment, repo_downloads_pending
from registry.services.housekeeping import history_squash, lfs_files_delete
from registry.services.refs import branch_create, branch_delete, tag_create, tag_delete
from registry.services.repos import (
    repo_create,
    repo_delete,
    repo_move,
    repo_purge,
    repo_restore,
    repo_settings_update,
    repos_purge_deleted,
)
from registry.services.uploads import upload_receipt_record, upload_record

__all__ = [
    "AddFile",
    "CommitOperation",
    "DeleteFile",
    "DeleteFolder",
    "blob_stage",
    "blob_stage_entry",
    "blob_stage_stored",
    "blob_stage_stream",
    "blob_stage_uploads",
    "branch_create",
    "branch_delete",
    "commit_create",
    "commit_push",
    "history_squash",
    "lfs_files_delete",
    "repo_create",
    "repo_delete",
    "repo_downloads_flush",
    "repo_downloads_increment",
    "repo_downloads_pending",
    "repo_move",
    "repo_purge",
    "repo_restore",
    "repo_settings_update",
    "repos_purge_deleted",
    "tag_create",
    "tag_delete",
    "upload_receipt_record",
    "upload_record",
]
