"""`{% gating_sidebar %}` on the repo page: the visitor's access state, the public release plan
and links for reviewers and admins. The registry's template includes it by name, so the
registry's Python code does not depend on this app."""

from django import template

from gating import selectors
from gating.policy import Action, Principal, can, repo_role

register = template.Library()


@register.inclusion_tag("gating/_sidebar.html", takes_context=True)
def gating_sidebar(context) -> dict:
    repo = context["repo"]
    principal = Principal.from_request(context["request"])
    plan = selectors.release_plan_of(repo)
    can_review = can(principal, repo, Action.REVIEW)
    return {
        "repo": repo,
        "access": selectors.access_state(repo, principal.user),
        "has_role": repo_role(principal, repo) is not None,
        "plan": plan,
        "stages": list(plan.stages.all()) if plan else [],
        "can_review": can_review,
        "can_manage": can(principal, repo, Action.MANAGE),
        "pending": selectors.pending_count(repo) if can_review else 0,
    }
