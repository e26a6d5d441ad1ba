"""manage.py optional_parts: which optional parts are on, and how to turn each on (core.startup)."""

from django.core.management.base import BaseCommand

from core.startup import report


class Command(BaseCommand):
    help = "Print which optional parts (previews, object storage, email, SSO) are on and how to turn each on."

    def handle(self, *args, **options):
        self.stdout.write(report())
