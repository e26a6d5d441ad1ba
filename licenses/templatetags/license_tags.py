"""The repo page's license box: what the license is and whether the viewer must still accept it."""

from django import template

from core.errors import ContentQuarantined, RevisionNotFound
from gating.policy import Principal, repo_role
from licenses.selectors import has_acknowledged, license_at
from registry.selectors import resolve_revision

register = template.Library()


@register.inclusion_tag("licenses/_license_box.html", takes_context=True)
def license_box(context, repo):
    principal = Principal.from_request(context["request"])
    try:
        current = license_at(repo, resolve_revision(repo, repo.default_branch))
    except RevisionNotFound:  # an empty repo has no license yet
        return {}
    except ContentQuarantined:  # its card or license text: the page's quarantine notice says so
        return {}
    box = {"repo": repo, "current": current, "user": principal.user}
    if current.requires_acknowledgment:
        box["exempt"] = repo_role(principal, repo) is not None
        box["acknowledged"] = has_acknowledged(principal.user, repo, current)
    return box
