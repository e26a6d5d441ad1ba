from django.core.management.base import BaseCommand, CommandError

from accounts import services
from core.errors import HubError


class Command(BaseCommand):
    help = "Create a user, or update an existing one's email, password and admin flag (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--admin", action="store_true", help="Give the user staff and superuser rights.")

    def handle(self, *args, username, email, password, admin, **options):
        try:
            user, created = services.user_ensure(username=username, email=email, password=password, is_admin=admin)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{'Created' if created else 'Updated'} user {user.username}")
