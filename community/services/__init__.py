"""Every write of the community app. Import from here: `from community import services`."""

from community.services.discussions import (
    comment_create,
    comment_edit,
    comment_hide,
    community_settings_update,
    discussion_create,
    discussion_lock,
    discussion_pin,
    discussion_rename,
    discussion_status_change,
    report_create,
    report_resolve,
    watch_set,
)
from community.services.pulls import (
    pull_request_merge,
    pull_request_open,
    pull_request_open_with_files,
    pull_request_record_commit,
)

__all__ = [
    "comment_create",
    "comment_edit",
    "comment_hide",
    "community_settings_update",
    "discussion_create",
    "discussion_lock",
    "discussion_pin",
    "discussion_rename",
    "discussion_status_change",
    "pull_request_merge",
    "pull_request_open",
    "pull_request_open_with_files",
    "pull_request_record_commit",
    "report_create",
    "report_resolve",
    "watch_set",
]
