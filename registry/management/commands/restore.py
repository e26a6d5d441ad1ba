from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.errors import HubError
from registry.ops.backup import restore
from registry.ops.fsck import fsck


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` onto a fresh install, with the hub stopped; then migrate "
        "(a backup of an older version is upgraded) and check the registry (fsck, content re-hashed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path)

    def handle(self, *args, source: Path, **options):
        try:
            report = restore(source)
        except HubError as exc:
            raise CommandError(exc.message) from exc
        call_command("migrate", "--noinput", verbosity=0)
        checked = fsck(rehash=True)
        for problem in checked.problems:
            self.stderr.write(problem)
        if checked.problems:
            raise CommandError(f"Restored, but fsck found {len(checked.problems)} problem(s).")
        self.stdout.write(
            f"Restored the database and {report.files} stored files; fsck checked {checked.commits} commits "
            f"and {checked.objects} objects."
        )
