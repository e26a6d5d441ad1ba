"""Re-encrypt every user's upstream token under the first key of GATEHOUSE_UPSTREAM_TOKEN_KEYS.

Rotation: put a new key first (keep the old one after it), restart, run this, then drop the old key."""

from django.core.management.base import BaseCommand

from mirror import services


class Command(BaseCommand):
    help = "Re-encrypt users' upstream tokens under the first key of GATEHOUSE_UPSTREAM_TOKEN_KEYS."

    def handle(self, *args, **options):
        count = services.credentials_rotate()
        self.stdout.write(f"{count} upstream token(s) re-encrypted.")
