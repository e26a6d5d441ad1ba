"""Extension points for the apps that build on the registry (licenses, gating, community).

The registry must not import them (dependencies point one way), so they register checks here
from their AppConfig.ready(). Checks are plain functions; they raise `core.errors.HubError`
(commit checks) or return messages (metadata checks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Protocol

from django.db import transaction

from registry.models import Repo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitContext:
    repo: Repo
    ref_name: str
    tree_oid: str
    parent_tree_oid: str | None
    author: object  # accounts.models.User | None


# Called inside the commit transaction, before the ref moves, once the new trees and blobs are
# stored (checks may read the new files); raising refuses the commit.
commit_checks: list[Callable[[CommitContext], None]] = []

# Called by /api/validate-yaml and on commits of README.md: (metadata, repo_type) -> (errors, warnings).
metadata_checks: list[Callable[[dict, str], tuple[list[str], list[str]]]] = []

# Extra panels for the repo page's sidebar (e.g. the preview widget):
# (request, access: gating.policy.RepoAccess, resolved) -> HTML string ('' for nothing). They render after the
# policy let the caller see the repo; each panel makes its own finer-grained policy checks.
repo_sidebar_panels: list[Callable[..., str]] = []


@dataclass(frozen=True)
class SettingsSection:
    """A section of the repo settings page (registry.views.repo_settings) that another app owns.

    The page has already resolved the repo through the policy for its admins (Action.MANAGE)
    before either function runs. `render(request, access) -> str` is the section's HTML ('' to
    leave it out); `actions` are the values of the form's `action` field it answers, and
    `handle(request, access, action)` applies one, raising core.errors.HubError to refuse it."""

    render: Callable[..., str]
    actions: frozenset[str]
    handle: Callable[..., None]


# Sections of the repo settings page, in the order the apps register them (discussions, previews).
repo_settings_sections: list[SettingsSection] = []

# Called inside the settings transaction after visibility or gating changed:
# (repo, actor or None, {"private": (old, new), "gated": (old, new)}).
settings_changed: list[Callable[[Repo, object, dict], None]] = []

# Called inside the commit transaction after the ref moved: (repo, ref_name, commit). Community
# records pushes to refs/pr/N as events of the pull request.
commit_listeners: list[Callable[..., None]] = []

# Called inside the transaction that creates or deletes a branch (commits use commit_listeners):
# (repo). Gating recomputes what the release stage withholds by content.
branches_changed: list[Callable[[Repo], None]] = []


# Called inside the transaction that squashes a ref's history or deletes LFS content for good:
# (repo, actor, action, data). Gating writes it to the audit trail.
history_changed: list[Callable[[Repo, object, str, dict], None]] = []


class PullRequestHooks(Protocol):
    """Pull requests live in the community app; the commit endpoints reach them through this."""

    def authorize_commit(self, *, access, ref_name: str | None) -> None:
        """Raise unless the caller may push to `ref_name` (None: open a new pull request);
        `access` is the policy's gating.policy.RepoAccess (the registry cannot import it)."""

    def open_for_commit(
        self, *, repo: Repo, author, base_branch: str, parent_commit: str | None, title: str, description: str
    ) -> str:
        """Open a pull request whose ref starts at `parent_commit` (or the base head); its ref name."""

    def url_path(self, *, repo: Repo, ref_name: str) -> str:
        """The web path of the pull request behind `ref_name` (…/discussions/N)."""

    def base_ref(self, *, repo: Repo, ref_name: str) -> str | None:
        """The full name of the branch the pull request behind `ref_name` targets; None if none."""

    def opened_by(self, *, repo: Repo, ref_name: str) -> int | None:
        """The id of the user who opened the pull request behind `ref_name`; None if none."""


pull_requests: PullRequestHooks | None = None

# Content stored only as Xet chunks (StoredObject.xet_hash set, no plain copy) is read through
# the xet app: (xet file hash, start, end exclusive) -> the bytes, in pieces.
xet_content: Callable[[str, int, int], Iterator[bytes]] | None = None

# Run by the garbage collector after the blob store's own sweep: (grace, dry_run) -> counts of what
# was (or would be) deleted, by kind; the xet app collects xorbs and files no content uses.
garbage_collectors: list[Callable[[timedelta, bool], dict[str, int]]] = []


@dataclass(frozen=True)
class RepoEvent:
    """Something that happened to a repo, as the Hub's webhooks name it: `scope` is "repo",
    "repo.content", "repo.config", "discussion" or "discussion.comment"; `action` is "create",
    "update", "delete" or "move". Ids only (and the facts of the moment that cannot be read back
    later: the refs' old and new commits, the settings changed, the repo's id before a move)."""

    repo_pk: int
    scope: str
    action: str
    actor_pk: int | None = None
    updated_refs: tuple[tuple[str, str | None, str | None], ...] = ()
    updated_config: dict = field(default_factory=dict)
    moved_from: str | None = None
    discussion_pk: int | None = None
    comment_pk: int | None = None


# Told about repo events once the transaction that made them commits (never about a write that
# rolled back): (event). The webhooks app queues its deliveries from here. A listener that raises
# is logged and does not undo or fail the write, which has already committed.
repo_event_listeners: list[Callable[[RepoEvent], object]] = []


def repo_event_emit(event: RepoEvent) -> None:
    """Announce `event` to `repo_event_listeners` after the current transaction commits."""
    transaction.on_commit(partial(_announce, event))


def _announce(event: RepoEvent) -> None:
    for listener in list(repo_event_listeners):
        try:
            listener(event)
        except Exception:
            logger.exception("Repo event listener %r failed on %s/%s", listener, event.scope, event.action)
