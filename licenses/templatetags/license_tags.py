"""The repo page's license box: what the license is and whether the viewer must still accept it."""

from django import template

from core.errors import ContentQuarantined, RevisionNotFound
from gating.policy import Principal, RepoAccess
from licenses.selectors import has_acknowledged, license_at
from registry.selectors import resolve_revision

register = template.Library()


@register.inclusion_tag("licenses/_license_box.html", takes_context=True)
def license_box(context, repo):
    access = context.get("repo_access") or RepoAccess(Principal.from_request(context["request"]), repo)
    principal = access.principal
    try:
        current = license_at(repo, resolve_revision(repo, repo.default_branch), opt_in=access.acknowledgment_opt_in)
    except RevisionNotFound:  # an empty repo has no license yet
        return {}
    except ContentQuarantined:  # its card or license text: the page's quarantine notice says so
        return {}
    box = {"repo": repo, "current": current, "user": principal.user}
    if current.requires_acknowledgment:
        box["exempt"] = access.role is not None
        box["acknowledged"] = has_acknowledged(principal.user, repo, current)
    return box
