"""Drop the content stored for one mirrored repo (fetched again from the upstream on next use)."""

from django.core.management.base import BaseCommand, CommandError

from mirror import services
from mirror.config import upstream_for_namespace


class Command(BaseCommand):
    help = "Drop the stored content of a mirrored repo: manage.py mirror_purge google/gemma [--type dataset]"

    def add_arguments(self, parser):
        parser.add_argument("repo_id")
        parser.add_argument("--type", default="model", choices=["model", "dataset"])

    def handle(self, *args, repo_id: str, type: str, **options):
        upstream = upstream_for_namespace(repo_id.split("/")[0])
        if upstream is None or "/" not in repo_id:
            raise CommandError(f"{repo_id!r} is not in a mirrored namespace.")
        count = services.repo_purge(upstream=upstream.name, repo_type=type, repo_id=repo_id, actor=None)
        self.stdout.write(f"{count} stored object(s) of {repo_id} purged.")
