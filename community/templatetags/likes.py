"""The repo header's like button: the count and whether the viewer likes the repo."""

from django import template

from community.models import Like

register = template.Library()


@register.inclusion_tag("community/_like_button.html", takes_context=True)
def like_button(context, repo):
    request = context["request"]
    user = request.user
    liked = user.is_authenticated and Like.objects.filter(user=user, repo=repo).exists()
    return {"repo": repo, "liked": liked, "signed_in": user.is_authenticated, "csrf_token": context.get("csrf_token")}
