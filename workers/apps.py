from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Hosted previews"

    def ready(self) -> None:
        from registry import hooks
        from workers import portal, settings_section
        from workers.services.media_gc import collect_preview_garbage

        hooks.repo_sidebar_panels.append(portal.preview_sidebar_panel)
        if settings_section.SECTION not in hooks.repo_settings_sections:
            hooks.repo_settings_sections.append(settings_section.SECTION)
        if collect_preview_garbage not in hooks.garbage_collectors:
            hooks.garbage_collectors.append(collect_preview_garbage)
