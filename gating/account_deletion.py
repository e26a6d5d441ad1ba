"""Deleting an account: its repos transferred or deleted as the user chooses, then the account
erased down to a tombstone (accounts.erasure), in one transaction.

It lives here, above accounts and the registry, because it moves repos (registry services) and
writes the audit trail. What each repo becomes is the user's choice, repo by repo: `delete` (the
recoverable delete of every repo: GATEHOUSE_REPO_DELETE_GRACE_DAYS, then purged) or a transfer to
an organisation they administer (`org:<name>`; old URLs redirect, as for any move).

Kept for the security model and the audit (README, Accounts):
- audit rows: never touched (append-only); they name the tombstone's username;
- upload receipts: the proof that content a contributor uploaded to a pull request may be served
  by that repo (registry.storage.content); removing them would quarantine files of merged and
  open pull requests;
- access requests: who asked for which repo, when, and what was decided, by whom, until when;
  the form's answers (name, company, country...) are erased but for its checkboxes, the terms
  the user agreed to. Pending requests are withdrawn (deleted): nobody is left to grant;
- license acknowledgments: which license text the account accepted, when.
Erased here: reviewer delegations; by the apps above (their erasers): likes, watches,
collections, webhooks.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, QuerySet

from accounts import erasure
from accounts.models import Membership, Organization, Role, User
from core.errors import BadRequest
from gating.audit import audit_record
from gating.models import AccessRequest, AuditEvent, RepoReviewer, RequestStatus
from registry import services as registry_services
from registry.models import Repo

DELETE = "delete"
TRANSFER_PREFIX = "org:"


def repos_to_settle(user: User) -> QuerySet[Repo]:
    """The live repos `user` owns: each needs a choice before the account can go."""
    return Repo.objects.filter(owner_user=user, deleted_at__isnull=True).order_by("repo_type", "name")


def transfer_targets(user: User) -> list[Organization]:
    """Organisations `user` administers: where their repos may go."""
    return list(Organization.objects.filter(memberships__user=user, memberships__role=Role.ADMIN).order_by("name"))


def orgs_left_without_admin(user: User) -> list[str]:
    """Organisations of which `user` is the only admin: another admin must be named first."""
    admin_of = Membership.objects.filter(user=user, role=Role.ADMIN).values("org_id")
    alone = (
        Organization.objects.filter(pk__in=admin_of)
        .annotate(admins=Count("memberships", filter=Q(memberships__role=Role.ADMIN)))
        .filter(admins=1)
    )
    return sorted(alone.values_list("name", flat=True))


def _settle(*, user: User, repo: Repo, choice: str, targets: dict[str, Organization]) -> dict:
    if choice == DELETE:
        registry_services.repo_delete(repo=repo)
        audit_record(repo=repo, action="account.delete.repo_delete", actor=user)
        return {"repo": repo.repo_id, "type": repo.repo_type, "deleted": True}
    org = targets.get(choice[len(TRANSFER_PREFIX) :].lower()) if choice.startswith(TRANSFER_PREFIX) else None
    if org is None:
        raise BadRequest(f"Choose what becomes of {repo.repo_id}: delete it, or an organisation you administer.")
    old_id = repo.repo_id
    moved = registry_services.repo_move(repo=repo, to_namespace=org.name, to_name=repo.name)
    data = {"from": old_id, "to": moved.repo_id}
    audit_record(repo=moved, action="account.delete.repo_transfer", actor=user, data=data)
    return {"repo": old_id, "type": repo.repo_type, "to": moved.repo_id}


def _erase_access_requests(user: User) -> None:
    AccessRequest.objects.filter(user=user, status=RequestStatus.PENDING).delete()
    for request in AccessRequest.objects.filter(user=user).exclude(fields={}):
        kept = {label: value for label, value in request.fields.items() if isinstance(value, bool)}
        AccessRequest.objects.filter(pk=request.pk).update(fields=kept)


@transaction.atomic
def account_delete(*, user: User, choices: dict[int, str]) -> User:
    """Delete `user`'s account; `choices` maps each of their live repos' pk to `delete` or
    `org:<name>`. All or nothing: a repo without a valid choice (or whose name is taken in the
    organisation), or an organisation that would lose its last admin, changes nothing."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.deleted_at is not None:
        raise BadRequest("This account was deleted already.")
    alone = orgs_left_without_admin(user)
    if alone:
        raise BadRequest(f"You are the only admin of {', '.join(alone)}: make someone else an admin first.")
    targets = {org.name.lower(): org for org in transfer_targets(user)}
    settled = [
        _settle(user=user, repo=repo, choice=choices.get(repo.pk, ""), targets=targets)
        for repo in repos_to_settle(user).select_for_update()
    ]
    RepoReviewer.objects.filter(user=user).delete()
    _erase_access_requests(user)
    AuditEvent.objects.create(
        repo=None,
        repo_label="",
        actor=user,
        actor_label=user.username,
        subject=user,
        subject_label=user.username,
        action="account.delete",
        data={"repos": settled},
    )
    return erasure.account_erase(user=user)
