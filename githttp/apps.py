from django.apps import AppConfig


class GitHttpConfig(AppConfig):
    name = "githttp"
    verbose_name = "git over smart HTTP"

    def ready(self) -> None:
        from githttp import packcache
        from registry import hooks

        if packcache.purge_repo not in hooks.settings_changed:
            hooks.settings_changed.append(packcache.purge_repo)
        if packcache.purge_repo not in hooks.history_changed:
            hooks.history_changed.append(packcache.purge_repo)
        if packcache.purge_deleted_repo not in hooks.repo_event_listeners:
            hooks.repo_event_listeners.append(packcache.purge_deleted_repo)
        if packcache.collect not in hooks.garbage_collectors:
            hooks.garbage_collectors.append(packcache.collect)
