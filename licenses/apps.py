from django.apps import AppConfig
from django.apps import apps as global_apps
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


def _sync_catalogue(sender, using="default", apps=global_apps, **kwargs) -> None:
    """post_migrate is sent after every `migrate`, a partial one too (`migrate accounts 0001` on an
    empty database, `migrate licenses zero`), with `apps` the schema as far as it went: the sync
    writes the License table as this code's model has it, so it waits for a `migrate` that brings
    the table there (a flush sends the project's own apps: the schema is at head)."""
    from licenses.services import catalogue_sync

    if using == "default" and _license_table_at_head(apps):
        catalogue_sync()


def _license_table_at_head(apps) -> bool:
    from licenses.models import License

    try:
        migrated = apps.get_model("licenses", "License")
    except LookupError:  # licenses 0001 not applied
        return False
    columns = {field.column for field in migrated._meta.concrete_fields}
    return migrated._meta.db_table == License._meta.db_table and all(
        field.column in columns for field in License._meta.concrete_fields
    )
