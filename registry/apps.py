from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"

    def ready(self) -> None:
        from django.conf import settings

        if settings.GATEHOUSE_STORAGE_URL:
            # The S3 client costs about 0.1 s of CPU to make: at start, not in a process's first request.
            from registry.storage import get_storage, get_xet_storage

            get_storage()
            get_xet_storage()
