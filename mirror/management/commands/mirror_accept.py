"""Accept a gated upstream repo's terms on the organisation's behalf, or revoke that.

manage.py mirror_accept google/gemma-2b --by "J. Doe, legal" --reason "Gemma terms reviewed, ticket 123"
manage.py mirror_accept google/gemma-2b --revoke
"""

from django.core.management.base import BaseCommand, CommandError

from core.errors import HubError
from mirror import services
from mirror.config import upstream_for_legacy_id, upstream_for_namespace


class Command(BaseCommand):
    help = "Accept (or --revoke) a gated upstream repo's terms on the organisation's behalf."

    def add_arguments(self, parser):
        parser.add_argument("repo_id")
        parser.add_argument("--type", default="model", choices=["model", "dataset"])
        parser.add_argument("--by", default="", help="who accepted (recorded)")
        parser.add_argument("--reason", default="", help="why (recorded)")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, repo_id: str, type: str, by: str, reason: str, revoke: bool, **options):
        first = repo_id.split("/")[0]
        upstream = upstream_for_namespace(first) if "/" in repo_id else upstream_for_legacy_id(first)
        if upstream is None:
            raise CommandError(f"{repo_id!r} is not mirrored.")
        if revoke:
            count = services.acceptance_revoke(upstream=upstream, repo_type=type, repo_id=repo_id)
            self.stdout.write(f"{count} acceptance(s) of {repo_id} revoked.")
            return
        try:
            acceptance = services.acceptance_create(
                upstream=upstream, repo_type=type, repo_id=repo_id, accepted_by=by, reason=reason
            )
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Accepted {repo_id} on the organisation's behalf (acceptance {acceptance.pk}).")
