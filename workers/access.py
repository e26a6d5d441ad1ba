"""Which preview requests a caller may see, for the API and the portal alike.

The repo-level decision was already made by the view's base class (gating.policy); on top of it
a request is visible to the caller who made it and to the repo's admins, and to nobody else.
"""

from __future__ import annotations

from gating.policy import Action, RepoAccess, can, check_preview_files
from registry.selectors import Resolved, commit_tree_oid
from workers import selectors
from workers.loading import model_plan
from workers.models import PreviewRequest
from workers.runner.files import UnsupportedModel

# Who may request and see previews: gated weights need an approved request, unless the release
# stage makes previews public (gating.policy decides).
PREVIEW_ACTION = Action.PREVIEW


def require_preview_files(access: RepoAccess, tree_oid: str | None, commit_oid: str = "") -> None:
    """Staged release and licenses: no preview of weights the current stage withholds from this
    caller, nor under a license the caller has not acknowledged."""
    if tree_oid is None:
        return
    try:
        paths = list(model_plan(access.repo.pk, tree_oid).paths)
    except UnsupportedModel:
        return  # nothing can be loaded from this tree; the request fails on its own
    resolved = Resolved(commit_oid, commit_oid, tree_oid, None) if commit_oid else None
    check_preview_files(access, paths, resolved, tree_oid=tree_oid)


def visible_request(access: RepoAccess, preview_id: str) -> PreviewRequest:
    """Raises selectors.PreviewNotFound (a 404) for anything else, existing or not; and the
    policy's error when the stage now withholds the weights it was made from."""
    repo = access.repo
    found = selectors.request_for(
        repo=repo, request_id=preview_id, user=access.principal.user, is_admin=can(access, Action.MANAGE)
    )
    require_preview_files(access, commit_tree_oid(repo, found.job.commit_oid), found.job.commit_oid)
    return found
