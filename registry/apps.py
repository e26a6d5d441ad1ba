from django.apps import AppConfig
from django.conf import settings

from registry.storage import (
    bucket_readiness,
    get_storage,
    get_xet_storage,
)  # models-free: importable before the registry is ready


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self) -> None:
        from core import health  # it imports DRF views: not before the app registry is ready

        if bucket_readiness not in health.storage_checks:
            health.storage_checks.append(bucket_readiness)
        if settings.GATEHOUSE_STORAGE_URL:
            # The S3 client costs about 0.1 s of CPU to make: at start, not in a process's first request.
            get_storage()
            get_xet_storage()
