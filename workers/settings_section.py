"""The previews part of the repo settings page (registry.hooks.repo_settings_sections): the
switch and the safety preset; the full form (blocked concepts, bias reports, verdicts) stays on
/{repo}/previews/settings. Models only, as previews are."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string

from gating.policy import RepoAccess
from registry.hooks import SettingsSection
from workers import conf, selectors, services
from workers.models import SafetyPreset


def render(request, access: RepoAccess) -> str:
    if access.repo.repo_type != "model":
        return ""
    context = {
        "repo": access.repo,
        "preview_settings": selectors.settings_for(access.repo),
        "presets": SafetyPreset.values,
        "operator_minimum": settings.GATEHOUSE_PREVIEW_SLD_MINIMUM,
        "previews_available": conf.previews_available(),
    }
    return render_to_string("workers/_settings_section.html", context, request=request)


def handle(request, access: RepoAccess, action: str) -> None:
    services.preview_settings_update(
        repo=access.repo, enabled=request.POST.get("enabled") == "on", sld_preset=request.POST.get("sld_preset")
    )


SECTION = SettingsSection(render=render, actions=frozenset({"previews"}), handle=handle)
