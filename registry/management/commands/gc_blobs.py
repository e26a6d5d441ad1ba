from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.ops import backup
from registry.ops.gc import collect_garbage


class Command(BaseCommand):
    help = "Delete stored content that no commit references, after a grace period. Safe during uploads."

    def add_arguments(self, parser):
        parser.add_argument("--grace-seconds", type=int, default=settings.GATEHOUSE_GC_GRACE_SECONDS)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument(
            "--clear-backup-flag",
            action="store_true",
            help="Clear the flag of a backup that was killed before it ended (only when no backup runs), then collect.",
        )

    def handle(self, *args, grace_seconds, dry_run, clear_backup_flag, **options):
        if clear_backup_flag:
            backup.clear_running_flag()
        try:
            report = collect_garbage(grace=timedelta(seconds=grace_seconds), dry_run=dry_run)
        except backup.BackupRunning as exc:
            raise CommandError(str(exc)) from exc
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {report.deleted_objects} objects ({report.deleted_bytes} bytes), {report.deleted_strays} "
            f"untracked files and {report.deleted_tmp} temporary files; {report.referenced} objects are referenced."
        )
        for kind, count in report.extra.items():
            self.stdout.write(f"{verb} {count} {kind}.")
