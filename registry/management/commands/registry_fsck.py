from django.core.management.base import BaseCommand, CommandError

from registry.fsck import fsck


class Command(BaseCommand):
    help = "Check refs, commits, trees and stored content; exit 1 if anything is inconsistent."

    def add_arguments(self, parser):
        parser.add_argument("--rehash", action="store_true", help="Also re-hash every stored object (slow).")

    def handle(self, *args, rehash, **options):
        report = fsck(rehash=rehash)
        for problem in report.problems:
            self.stderr.write(problem)
        self.stdout.write(f"Checked {report.commits} commits and {report.objects} objects.")
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s) found.")
