from django.apps import AppConfig


class GitHttpConfig(AppConfig):
    name = "githttp"
    verbose_name = "git over smart HTTP"

    def ready(self) -> None:
        from githttp import packcache
        from registry import hooks

        hooks.settings_changed.append(packcache.purge_repo)
        hooks.garbage_collectors.append(packcache.collect)
