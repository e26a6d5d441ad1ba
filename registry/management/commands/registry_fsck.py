from django.core.management.base import BaseCommand, CommandError

from registry.ops.fsck import fsck


class Command(BaseCommand):
    help = "Check refs, commits, trees and stored content; exit 1 if anything is inconsistent."

    def add_arguments(self, parser):
        parser.add_argument("--rehash", action="store_true", help="Also re-hash every stored object (slow).")
        parser.add_argument(
            "--repair",
            action="store_true",
            help="Reinterpret Git LFS pointers stored as regular files and quarantine the content they aliased.",
        )

    def handle(self, *args, rehash, repair, **options):
        report = fsck(rehash=rehash, repair=repair)
        for line in report.repaired:
            self.stdout.write(f"repaired: {line}")
        for problem in report.problems:
            self.stderr.write(problem)
        self.stdout.write(f"Checked {report.commits} commits and {report.objects} objects.")
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s) found.")
