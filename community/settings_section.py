"""The discussions switch on the repo settings page (registry.hooks.repo_settings_sections).

The page has resolved the repo for its admins; the switch is the one the community tab and
`PUT /api/{type}s/{repo}/community-settings` flip (community.permissions enforces it)."""

from __future__ import annotations

from django.template.loader import render_to_string

from community import permissions, services
from gating.policy import RepoAccess
from registry.hooks import SettingsSection


def render(request, access: RepoAccess) -> str:
    context = {"repo": access.repo, "discussions_enabled": permissions.discussions_enabled(access.repo)}
    return render_to_string("community/_settings_section.html", context, request=request)


def handle(request, access: RepoAccess, action: str) -> None:
    services.community_settings_update(repo=access.repo, discussions_disabled=action == "disable-discussions")


SECTION = SettingsSection(
    render=render, actions=frozenset({"enable-discussions", "disable-discussions"}), handle=handle
)
