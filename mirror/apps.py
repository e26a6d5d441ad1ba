from datetime import timedelta

from django.apps import AppConfig


class MirrorConfig(AppConfig):
    name = "mirror"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from registry import hooks

        checks.register(_check_upstreams)
        checks.register(_check_fetch_lease)
        checks.register(_check_local_holders, checks.Tags.database)
        checks.register(_check_token_keys)
        checks.register(_check_token_keys_deployed, checks.Tags.security, deploy=True)

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


def _check_fetch_lease(app_configs=None, **kwargs) -> list:
    """A fetch renews its lease between reads (mirror.content): a read may block for the whole
    GATEHOUSE_MIRROR_READ_TIMEOUT, so past the lease, less a renewal's interval, a quiet upstream
    would lapse the lease of a live fetch: its followers cut short, the row taken over."""
    from django.conf import settings
    from django.core import checks

    from mirror.content import LEASE, RENEW_EVERY

    if LEASE.total_seconds() > settings.GATEHOUSE_MIRROR_READ_TIMEOUT + RENEW_EVERY:
        return []
    return [
        checks.Error(
            f"GATEHOUSE_MIRROR_READ_TIMEOUT ({settings.GATEHOUSE_MIRROR_READ_TIMEOUT:g} s) is too long for the"
            f" mirror's fetch lease ({LEASE.total_seconds():g} s, renewed every {RENEW_EVERY:g} s).",
            hint=f"Keep it under {LEASE.total_seconds() - RENEW_EVERY:g} s.",
            id="mirror.E005",
        )
    ]


def _token_key_errors(*, deployed: bool) -> list:
    """Users' upstream tokens need GATEHOUSE_UPSTREAM_TOKEN_KEYS wherever more than one host may
    serve them: a key generated per host (the embedded default's) would encrypt tokens that no
    other host can read. Errors only where upstreams are configured (no token is stored otherwise)."""
    from cryptography.fernet import Fernet
    from django.conf import settings
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from mirror import crypto
    from mirror.config import upstreams

    try:
        if not upstreams():
            return []
    except (ImproperlyConfigured, ValueError, TypeError):
        return []  # mirror.E001 says why
    if crypto.is_configured():
        if deployed:
            return []  # the plain check, run with --deploy too, judges the keys themselves
        for key in settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS:
            try:
                Fernet(key.encode())
            except ValueError:
                return [
                    checks.Error(
                        "GATEHOUSE_UPSTREAM_TOKEN_KEYS holds a value that is not a Fernet key.",
                        hint="Each key is 32 url-safe base64-encoded bytes: Fernet.generate_key().",
                        id="mirror.E004",
                    )
                ]
        return []
    # Not both at once: the plain check says it where the database can span hosts, the deploy
    # check where the embedded default's SQLite is deployed (it may generate, but should not).
    if deployed == crypto.may_generate_key():
        return [
            checks.Error(
                "GATEHOUSE_UPSTREAMS is set and GATEHOUSE_UPSTREAM_TOKEN_KEYS is not: each host would "
                "generate a key of its own and could not read the upstream tokens another host stored.",
                hint="Set GATEHOUSE_UPSTREAM_TOKEN_KEYS to the same Fernet key(s) on every host "
                "(README, Upstream mirrors: key and rotation).",
                id="mirror.E003",
            )
        ]
    return []


def _check_token_keys(app_configs=None, **kwargs) -> list:
    return _token_key_errors(deployed=False)


def _check_token_keys_deployed(app_configs=None, **kwargs) -> list:
    return _token_key_errors(deployed=True)


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
