from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.sso import config, services
from core.errors import HubError


class Command(BaseCommand):
    help = (
        "Deprovision SSO accounts that have not signed in through the provider for --days days: remove "
        "their memberships of the organisations the group map names and disable the account (its "
        "sessions and tokens stop working). Run it daily (cron, a systemd timer). --reactivate undoes it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Deprovision identities not seen for this many days.")
        parser.add_argument(
            "--keep-active",
            action="store_true",
            help="Only remove the mapped memberships; leave the accounts (and their tokens) enabled.",
        )
        parser.add_argument("--dry-run", action="store_true", help="List who would be deprovisioned; change nothing.")
        parser.add_argument("--reactivate", metavar="USERNAME", help="Re-enable an account this command disabled.")

    def handle(self, *args, days, keep_active, dry_run, reactivate, **options):
        if not config.sso_enabled():
            raise CommandError("Single sign-on is not configured (GATEHOUSE_OIDC_ISSUER, GATEHOUSE_OIDC_CLIENT_ID).")
        try:
            if reactivate:
                user = services.sso_reactivate(issuer=config.issuer(), username=reactivate)
                self.stdout.write(f"Reactivated {user.username}")
                return
            if days is None:
                raise CommandError("--days is required (or --reactivate USERNAME).")
            done = services.sso_deprovision(
                issuer=config.issuer(),
                inactive_days=days,
                group_roles=config.group_roles(),
                disable=not keep_active,
                dry_run=dry_run,
            )
        except (HubError, ImproperlyConfigured) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        verb = "Would deprovision" if dry_run else "Deprovisioned"
        for item in done:
            removed = ", ".join(f"{org} ({role})" for org, role in item.removed) or "no mapped memberships"
            self.stdout.write(f"{verb} {item.username}: last sign-in {item.last_login_at:%Y-%m-%d}; {removed}")
        self.stdout.write(f"{verb} {len(done)} account(s).")
