"""The policy's list filter agrees with its single-object check; reviewer emails go to the right
people, at once or once a day; expiries are recorded once."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Role
from gating import policy, services
from gating.models import AccessRequest, AuditEvent, GateConfig
from gating.policy import Action, Principal
from gating.tasks import access_digest_task, access_expire_task
from registry.models import Repo
from registry.services import repo_settings_update
from tests.gating.conftest import ANSWERS
from tests.support.builders import UserFactory, add_member, make_repo

pytestmark = pytest.mark.django_db(transaction=True)


def test_downloadable_listing_agrees_with_the_single_repo_check(gated_repo, people):
    owner = people["owner"]
    make_repo(people["org"], "open", {"config.json": b"{}"}, author=owner)
    make_repo(people["org"], "secret", {"config.json": b"{}"}, author=owner, private=True)
    auto = make_repo(people["stranger"], "auto", {"config.json": b"{}"})
    repo_settings_update(repo=auto, gated="auto")
    expiring = make_repo(owner, "expiring", {"config.json": b"{}"})
    expiring = repo_settings_update(repo=expiring, gated="manual")
    services.access_grant(
        repo=expiring, actor=owner, user=people["approved"], expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    )
    principals = [Principal(user=None)] + [Principal(user=people[key]) for key in people if key != "org"]
    for moment in (dt.timedelta(0), dt.timedelta(days=2)):
        with time_machine.travel(dt.datetime.now(dt.UTC) + moment, tick=False):
            for principal in principals:
                listed = set(policy.repos_downloadable_by(principal).values_list("pk", flat=True))
                visible = policy.repos_visible_to(principal)
                checked = {repo.pk for repo in visible if policy.can(principal, repo, Action.DOWNLOAD)}
                assert listed == checked, principal
    approved = Principal(user=people["approved"])
    assert policy.can(approved, Repo.objects.get(pk=expiring.pk), Action.DOWNLOAD)


def test_review_needs_admin_or_delegation_and_a_write_token(gated_repo, people):
    from accounts.services import token_create

    owner_read_token, _ = token_create(user=people["owner"], name="r", role="read")
    assert policy.can(Principal(user=people["owner"]), gated_repo, Action.REVIEW)
    assert not policy.can(Principal(user=people["owner"], token=owner_read_token), gated_repo, Action.REVIEW)
    writer = UserFactory(username="wendy")
    add_member(people["org"], writer, Role.WRITE)
    assert not policy.can(Principal(user=writer), gated_repo, Action.REVIEW)
    services.reviewer_add(repo=gated_repo, actor=people["owner"], user=writer)
    assert policy.can(Principal(user=writer), gated_repo, Action.REVIEW)
    assert not policy.can(Principal(user=writer), gated_repo, Action.MANAGE)


def test_org_repos_notify_the_first_five_admins_and_delegated_reviewers(gated_repo, people, mailoutbox):
    admins = [UserFactory(username=f"admin{n}") for n in range(6)]
    for admin in admins:
        add_member(people["org"], admin, Role.ADMIN)
    delegate = UserFactory(username="dee")
    services.reviewer_add(repo=gated_repo, actor=people["owner"], user=delegate)
    services.access_request_submit(repo=gated_repo, user=UserFactory(username="nina"), answers=ANSWERS)
    [mail] = mailoutbox
    assert mail.to == ["olivia@example.org"] + [f"admin{n}@example.org" for n in range(4)] + ["dee@example.org"]
    assert "/acme/diffusion/access-requests" in mail.body


def test_daily_digest_goes_out_once_per_day(gated_repo, people, mailoutbox):
    services.gate_config_update(repo=gated_repo, actor=people["owner"], notify_mode="daily")
    start = dt.datetime(2031, 5, 1, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        assert access_digest_task() == 1  # the pending request of the fixture
        assert mailoutbox[-1].subject == "1 new access request(s) to acme/diffusion"
    with time_machine.travel(start + dt.timedelta(hours=1), tick=False):
        services.access_request_submit(repo=gated_repo, user=UserFactory(username="nina"), answers=ANSWERS)
        assert len(mailoutbox) == 1  # daily mode: no email per request
        assert access_digest_task() == 0  # the same day: nothing
    with time_machine.travel(start + dt.timedelta(days=1, minutes=1), tick=False):
        assert access_digest_task() + access_digest_task() == 1  # two ticks, one digest
        assert "nina" in mailoutbox[-1].body and "2 request(s) are waiting" in mailoutbox[-1].body
    assert GateConfig.objects.get(repo=gated_repo).last_digest_at == start + dt.timedelta(days=1, minutes=1)


def test_expiry_is_recorded_once_and_the_user_is_told(gated_repo, people, mailoutbox):
    abe = AccessRequest.objects.get(user=people["approved"])
    services.access_requests_decide(
        repo=gated_repo,
        actor=people["owner"],
        request_ids=[abe.pk],
        status="accepted",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    mailoutbox.clear()
    assert access_expire_task() == 0
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2), tick=False):
        assert access_expire_task() == 1
        assert access_expire_task() == 0
    assert AccessRequest.objects.get(pk=abe.pk).status == "expired"
    assert AuditEvent.objects.filter(subject=people["approved"], action="access.expired").count() == 1
    assert [mail.subject for mail in mailoutbox] == ["Your access to acme/diffusion has expired"]
