from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import lifecycle
from accounts.models import User
from core.errors import HubError


class Command(BaseCommand):
    help = (
        "Operators: disable (block) or enable an account, or make a sign-up invitation link "
        "(for GATEHOUSE_SIGNUP_MODE=invite)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        disable = sub.add_parser("disable", help="Block an account: no sign-in, tokens refused, sessions ended.")
        disable.add_argument("username")
        disable.add_argument("--reason", default="")
        enable = sub.add_parser("enable", help="Undo disable (ended sessions stay ended).")
        enable.add_argument("username")
        invite = sub.add_parser("invite", help="Print a sign-up link (shown once).")
        invite.add_argument("--email", default="", help="Only this email may use it.")
        invite.add_argument("--days", type=int, default=None, help="Days it stays valid.")
        invite.add_argument("--note", default="")
        invite.add_argument("--base-url", default="", help="The hub's address (default GATEHOUSE_PUBLIC_URL).")

    def handle(self, *args, action, **options):
        try:
            if action == "invite":
                return self._invite(**options)
            user = User.objects.filter(username__iexact=options["username"]).first()
            if user is None:
                raise CommandError(f"No user named {options['username']!r}.")
            if action == "disable":
                lifecycle.user_disable(user=user, reason=options["reason"])
                self.stdout.write(f"Disabled {user.username}")
            else:
                lifecycle.user_enable(user=user)
                self.stdout.write(f"Enabled {user.username}")
        except HubError as exc:
            raise CommandError(exc.message) from exc

    def _invite(self, *, email, days, note, base_url, **options):
        _, secret = lifecycle.invitation_create(created_by=None, email=email, note=note, days=days)
        base = (base_url or settings.GATEHOUSE_PUBLIC_URL).rstrip("/")
        self.stdout.write(f"{base}/signup?invite={secret}")
