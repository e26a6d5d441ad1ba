"""Which preview requests a caller may see, for the API and the portal alike.

The repo-level decision was already made by the view's base class (gating.policy); on top of it
a request is visible to the caller who made it and to the repo's admins, and to nobody else.
"""

from __future__ import annotations

from gating.policy import Action, Principal, can
from registry.models import Repo
from workers import selectors
from workers.models import PreviewRequest

# Who may request and see previews: the download decision for now, so gated weights need an
# approved request (gating may grow a dedicated action; this is the one place to switch).
PREVIEW_ACTION = Action.DOWNLOAD


def visible_request(principal: Principal, repo: Repo, preview_id: str) -> PreviewRequest:
    """Raises selectors.PreviewNotFound (a 404) for anything else, existing or not."""
    return selectors.request_for(
        repo=repo, request_id=preview_id, user=principal.user, is_admin=can(principal, repo, Action.MANAGE)
    )
