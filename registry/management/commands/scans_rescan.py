from django.core.management.base import BaseCommand, CommandError

from registry.services.scans import scans_rescan


class Command(BaseCommand):
    help = "Scan again the files whose verdict is one of --status (default: error), e.g. after a scanner upgrade."

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            action="append",
            dest="statuses",
            metavar="STATUS",
            help="a verdict: error, unscanned, queued...; repeatable (default: error)",
        )

    def handle(self, *args, statuses, **options):
        try:
            queued = scans_rescan(statuses=statuses or ["error"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Queued {len(queued)} scans.")
