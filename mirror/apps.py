from datetime import timedelta

from django.apps import AppConfig


class MirrorConfig(AppConfig):
    name = "mirror"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from registry import hooks

        checks.register(_check_upstreams)
        checks.register(_check_local_holders, checks.Tags.database)

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


def _check_local_holders(app_configs=None, databases=None, **kwargs) -> list:
    """A namespace is local or upstream, never both: names configured as mirrored that local
    users, organisations or repos already hold (found by a review: their repos would vanish
    behind the mirror while some routes still reached them). Run by `manage.py check --database
    default` and by `migrate`; an operator renames the local holder or the configuration."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError
    from django.db.models.functions import Lower

    from accounts.models import Organization, User
    from mirror.config import upstreams
    from registry.models import Repo

    if not databases:
        return []
    try:
        mirrored = {name for upstream in upstreams().values() for name in upstream.namespaces | upstream.legacy_ids}
    except (ImproperlyConfigured, ValueError, TypeError):
        return []  # mirror.E001 says why
    if not mirrored:
        return []
    try:
        held = set(User.objects.annotate(n=Lower("username")).filter(n__in=mirrored).values_list("n", flat=True))
        held |= set(Organization.objects.annotate(n=Lower("name")).filter(n__in=mirrored).values_list("n", flat=True))
        held |= set(Repo.objects.annotate(n=Lower("namespace")).filter(n__in=mirrored).values_list("n", flat=True))
    except DatabaseError:
        return []  # not migrated yet
    return [
        checks.Error(
            f"GATEHOUSE_UPSTREAMS mirrors {name!r}, which a local account, organisation or repo holds.",
            hint="Rename the local holder (or take the name out of the configuration): a name is local or mirrored.",
            id="mirror.E002",
        )
        for name in sorted(held)
    ]
