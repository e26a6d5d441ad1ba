from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import TokenRole, User
from core.errors import HubError


class Command(BaseCommand):
    help = "Create an access token for a user and print it, alone, on stdout."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=[TokenRole.READ, TokenRole.WRITE], default=TokenRole.READ)
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, role, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            _, plaintext = services.token_create(user=user, name=name, role=role)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(plaintext)
