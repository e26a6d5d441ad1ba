"""The repo page's gating box: how to get access, and the release plan with its dates."""

from django import template

from gating.models import ReleasePlan
from gating.policy import Principal, RepoAccess, access_state

register = template.Library()


@register.inclusion_tag("gating/_repo_box.html", takes_context=True)
def gate_box(context, repo):
    request = context["request"]
    access = context.get("repo_access") or RepoAccess(Principal.from_request(request), repo)
    principal = access.principal
    plan = ReleasePlan.objects.filter(repo=repo).first()
    box = {"repo": repo, "plan": plan, "stages": list(plan.stages.all()) if plan else [], "request": request}
    box["role"] = access.role
    if repo.gated and principal.user is not None and box["role"] is None:
        box["state"], box["access"] = access_state(principal.user, repo)
    return box
