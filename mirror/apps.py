from datetime import timedelta

from django.apps import AppConfig


class MirrorConfig(AppConfig):
    name = "mirror"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from registry import hooks

        checks.register(_check_upstreams)

        if _collect_garbage not in hooks.garbage_collectors:
            hooks.garbage_collectors.append(_collect_garbage)


def _collect_garbage(grace: timedelta, dry_run: bool) -> dict[str, int]:
    """`gc_blobs` for the mirror's own area: temporaries of fetches that died (older than the
    grace period). Stored upstream content is kept: it is a cache the operator purges."""
    from mirror.content import mirror_storage

    if dry_run:
        return {"mirror_tmp": 0}
    return {"mirror_tmp": mirror_storage().clean_tmp(older_than_seconds=grace.total_seconds())}


def _check_upstreams(app_configs=None, **kwargs) -> list:
    """GATEHOUSE_UPSTREAMS is read when the first request names a mirrored namespace; a mistake
    in it shows at `manage.py check` (and every start) instead."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from mirror.config import upstreams

    try:
        upstreams()
    except (ImproperlyConfigured, ValueError, TypeError) as exc:
        return [checks.Error(f"GATEHOUSE_UPSTREAMS: {exc}", id="mirror.E001")]
    return []
