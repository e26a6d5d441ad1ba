from django.core.management.base import BaseCommand

from licenses.services import catalogue_sync


class Command(BaseCommand):
    help = "Copy the license catalogue (licenses/catalogue_data.py) into the database; idempotent."

    def handle(self, *args, **options):
        changed = catalogue_sync()
        self.stdout.write(f"{changed} catalogue rows created or updated.")
