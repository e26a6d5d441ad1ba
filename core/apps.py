from django.apps import AppConfig
from django.core.signals import request_finished


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from core import checks, faults, logctx  # noqa: F401 - they register their deploy checks

        request_finished.connect(logctx.end_request, dispatch_uid="core.logctx.end_request")
