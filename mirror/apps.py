from datetime import timedelta

from django.apps import AppConfig


class MirrorConfig(AppConfig):
    name = "mirror"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from registry import hooks

        if _collect_garbage not in hooks.garbage_collectors:
            hooks.garbage_collectors.append(_collect_garbage)


def _collect_garbage(grace: timedelta, dry_run: bool) -> dict[str, int]:
    """`gc_blobs` for the mirror's own area: temporaries of fetches that died (older than the
    grace period). Stored upstream content is kept: it is a cache the operator purges."""
    from mirror.content import mirror_storage

    if dry_run:
        return {"mirror_tmp": 0}
    return {"mirror_tmp": mirror_storage().clean_tmp(older_than_seconds=grace.total_seconds())}
