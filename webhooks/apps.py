from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # The registry and community announce repo events through the registry's hook; they
        # never import this app.
        from accounts import erasure
        from registry import hooks
        from webhooks.delivery import deliveries_queue_for_event
        from webhooks.erasure import webhooks_erase

        if deliveries_queue_for_event not in hooks.repo_event_listeners:
            hooks.repo_event_listeners.append(deliveries_queue_for_event)
        if webhooks_erase not in erasure.erasers:
            erasure.erasers.append(webhooks_erase)
