from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.errors import HubError
from gating import account_deletion


class Command(BaseCommand):
    help = (
        "Operators: delete an account on its owner's behalf (gating.account_deletion): every repo it "
        "owns is deleted (recoverable for the grace period) or transferred to an organisation it "
        "administers, then the account is erased down to its tombstone username."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--repos",
            required=True,
            help="What becomes of every repo it owns: 'delete', or 'org:<name>' (an organisation it administers).",
        )
        parser.add_argument("--yes", action="store_true", help="Do it (without: list what would happen).")

    def handle(self, *args, username, repos, yes, **options):
        user = User.objects.filter(username__iexact=username, deleted_at__isnull=True).first()
        if user is None:
            raise CommandError(f"No account named {username!r}.")
        owned = list(account_deletion.repos_to_settle(user))
        for repo in owned:
            self.stdout.write(f"{repo.repo_type} {repo.repo_id}: {repos}")
        if not yes:
            self.stdout.write(f"Would delete the account {user.username} ({len(owned)} repos); add --yes to do it.")
            return
        try:
            account_deletion.account_delete(user=user, choices={repo.pk: repos for repo in owned})
        except HubError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Deleted the account {user.username}")
