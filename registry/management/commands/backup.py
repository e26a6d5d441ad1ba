from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import HubError
from registry.ops.backup import backup


class Command(BaseCommand):
    help = (
        "Back up the database and the blob store of a running hub into a folder (see registry/ops/backup.py); "
        "an earlier backup's folder is brought up to date, copying only new content."
    )

    def add_arguments(self, parser):
        parser.add_argument("destination", type=Path)

    def handle(self, *args, destination: Path, **options):
        try:
            report = backup(destination)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Backed up the database ({report.database}) and {report.files} stored files "
            f"({report.bytes} bytes, {report.copied} copied now) to {destination}."
        )
