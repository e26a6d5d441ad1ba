from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LicensesConfig(AppConfig):
    name = "licenses"

    def ready(self) -> None:
        from licenses import checks
        from registry import hooks

        hooks.commit_checks.append(checks.derivative_license_check)
        hooks.metadata_checks.append(checks.license_metadata_check)
        # Reference data, like contenttypes: re-synced after every migrate and every flush (test
        # databases are flushed between transactional tests).
        post_migrate.connect(_sync_catalogue, sender=self, dispatch_uid="licenses.catalogue_sync")


def _sync_catalogue(sender, using="default", **kwargs) -> None:
    from licenses.services import catalogue_sync

    if using == "default":
        catalogue_sync()
