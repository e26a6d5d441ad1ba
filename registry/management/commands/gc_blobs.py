from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from registry.ops.gc import collect_garbage


class Command(BaseCommand):
    help = "Delete stored content that no commit references, after a grace period. Safe during uploads."

    def add_arguments(self, parser):
        parser.add_argument("--grace-seconds", type=int, default=settings.GATEHOUSE_GC_GRACE_SECONDS)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, grace_seconds, dry_run, **options):
        report = collect_garbage(grace=timedelta(seconds=grace_seconds), dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {report.deleted_objects} objects ({report.deleted_bytes} bytes), {report.deleted_strays} "
            f"untracked files and {report.deleted_tmp} temporary files; {report.referenced} objects are referenced."
        )
        for kind, count in report.extra.items():
            self.stdout.write(f"{verb} {count} {kind}.")
