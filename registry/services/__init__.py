"""Every write to repos and their history. Import from here: `from registry import services`."""

from registry.services.commits import (
    AddFile,
    CommitOperation,
    DeleteFile,
    DeleteFolder,
    check_uploads,
    commit_create,
    commit_push,
    stage_bytes,
    stage_entry,
    stage_stored,
    stage_stream,
    stage_uploads,
    validate_parent_commit,
)
from registry.services.downloads import repo_downloads_flush, repo_downloads_increment, repo_downloads_pending
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

__all__ = [
    "branch_create",
    "branch_delete",
    "tag_create",
    "tag_delete",
    "repo_move",
    "AddFile",
    "CommitOperation",
    "check_uploads",
    "DeleteFile",
    "DeleteFolder",
    "commit_create",
    "commit_push",
    "repo_create",
    "repo_delete",
    "repo_downloads_flush",
    "repo_downloads_increment",
    "repo_downloads_pending",
    "repo_purge",
    "repo_restore",
    "repos_purge_deleted",
    "repo_settings_update",
    "stage_bytes",
    "stage_entry",
    "stage_stored",
    "stage_stream",
    "stage_uploads",
    "validate_parent_commit",
]
