from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Hosted previews"

    def ready(self) -> None:
        from registry import hooks
        from workers import portal

        hooks.repo_sidebar_panels.append(portal.preview_sidebar_panel)
