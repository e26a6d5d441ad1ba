"""What is announced, to whom, and what a delivery may still tell when it is attempted: access
lost through an org, a comment hidden meanwhile, a deleted repo, the payload cap, domains, and
the portal's delivery log."""

from __future__ import annotations

import pytest
from django.test import Client
from huggingface_hub import WebhookPayload

from community import services as community
from registry import services as registry_services
from tests.support.builders import OrganizationFactory, add_member, commit_files, make_repo
from tests.webhooks.helpers import make_webhook, watch_org, watch_repo, watch_user
from webhooks.delivery import delivery_attempt
from webhooks.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def allowed(settings):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True


def test_access_lost_through_an_org_stops_delivery(
    alice, bob, receiver, allowed, held, django_capture_on_commit_callbacks
):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "admin")
    membership = add_member(org, bob, "read")
    repo = make_repo(org, "private-model", private=True, author=alice)
    make_webhook(bob, receiver.url, watch_org(org))
    with django_capture_on_commit_callbacks(execute=True):
        commit_files(repo, {"weights.txt": b"v2"}, author=alice)
    [pk] = held
    membership.delete()  # bob leaves before the delivery is attempted
    assert delivery_attempt(pk).status == DeliveryStatus.SKIPPED and receiver.requests == []

    with django_capture_on_commit_callbacks(execute=True):
        commit_files(repo, {"weights.txt": b"v3"}, author=alice)
    assert held == [pk]  # and later events are not recorded for him at all


def test_a_comment_hidden_before_delivery_goes_without_its_text(
    alice, bob, receiver, allowed, held, django_capture_on_commit_callbacks
):
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo), domains=["discussion"])
    with django_capture_on_commit_callbacks(execute=True):
        discussion = community.discussion_create(repo=repo, author=bob, title="Spam", description="buy now")
        comment = community.comment_create(discussion=discussion, author=bob, raw="more spam")
        commit_files(repo, {"weights.txt": b"v2"}, author=alice)  # repo domain: not watched
    opened_pk, comment_pk = held
    community.comment_hide(event=comment, actor=alice)
    assert delivery_attempt(comment_pk).status == DeliveryStatus.DELIVERED
    payload = WebhookPayload.model_validate_json(receiver.requests[0].body)
    assert (payload.event.scope, payload.event.action) == ("discussion.comment", "create")
    assert payload.comment.hidden is True and payload.comment.content is None
    assert b"more spam" not in receiver.requests[0].body
    assert payload.discussion.url.web == f"http://hub.test/alice/model/discussions/{discussion.num}"


def test_pull_request_payload(alice, bob, receiver, allowed, django_capture_on_commit_callbacks):
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo), domains=["discussion"])
    with django_capture_on_commit_callbacks(execute=True):
        community.pull_request_open(repo=repo, author=bob, title="Fix", description="A fix")
    payload = WebhookPayload.model_validate_json(receiver.requests[0].body)
    assert payload.discussion.isPullRequest is True and payload.discussion.status == "draft"
    assert payload.discussion.changes.base == "refs/heads/main"


def test_deletion_is_told_to_who_could_see_the_repo(alice, bob, receiver, allowed, django_capture_on_commit_callbacks):
    public, private = make_repo(alice, "public"), make_repo(alice, "private", private=True)
    mine = make_webhook(alice, receiver.url, watch_user(alice))
    theirs = make_webhook(bob, receiver.url, watch_user(alice))
    with django_capture_on_commit_callbacks(execute=True):
        registry_services.repo_delete(repo=private)
        registry_services.repo_delete(repo=public)
    names = sorted((r.json["webhook"]["id"], r.json["repo"]["name"]) for r in receiver.requests)
    assert names == sorted(
        [(mine.public_id, "alice/private"), (mine.public_id, "alice/public"), (theirs.public_id, "alice/public")]
    )
    assert {(r.json["event"]["scope"], r.json["event"]["action"]) for r in receiver.requests} == {("repo", "delete")}


def test_gated_repos_announce_to_watchers_who_may_see_them(
    alice, bob, receiver, allowed, django_capture_on_commit_callbacks
):
    repo = make_repo(alice, "gated")
    registry_services.repo_settings_update(repo=repo, gated="manual", actor=alice)
    make_webhook(bob, receiver.url, watch_repo(repo))
    with django_capture_on_commit_callbacks(execute=True):
        commit_files(repo, {"weights.txt": b"v2"}, author=alice)
    with django_capture_on_commit_callbacks(execute=True):
        registry_services.repo_settings_update(repo=repo, private=True, actor=alice)
    # Metadata of a gated repo is public (as on the Hub); the payload names no file. Once
    # private, bob is told nothing, not even that it became private.
    assert [r.json["event"]["scope"] for r in receiver.requests] == ["repo.content"]


def test_payloads_are_capped(alice, bob, receiver, allowed, settings, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_MAX_PAYLOAD_BYTES = 4096
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo), domains=["discussion"])
    text = 'quote " and newline\n' * 3000
    with django_capture_on_commit_callbacks(execute=True):
        community.discussion_create(repo=repo, author=bob, title="Long", description=text)
    body = receiver.requests[0].body
    assert len(body) <= 4096
    payload = WebhookPayload.model_validate_json(body)
    assert payload.comment.content.startswith('quote " and newline\n')
    assert payload.comment.content.endswith("[… cut: the payload is capped at 4096 bytes]")


def test_portal_log_is_the_owners_alone(alice, bob, receiver, allowed, held, django_capture_on_commit_callbacks):
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    receiver.answers = [502]
    with django_capture_on_commit_callbacks(execute=True):
        commit_files(repo, {"weights.txt": b"v2"}, author=alice)
        commit_files(repo, {"weights.txt": b"v3"}, author=alice)
    first, second = held
    delivery_attempt(first)  # 502: pending, retried later
    registry_services.repo_settings_update(repo=repo, private=True, actor=alice)
    Delivery.objects.filter(pk=second).update(payload={"repo": {"name": "alice/model"}})
    delivery_attempt(second)  # alice still sees her private repo: delivered

    owner = Client()
    owner.force_login(alice)
    page = owner.get("/settings/webhooks")
    assert page.status_code == 200 and webhook.public_id.encode() in page.content
    detail = owner.get(f"/settings/webhooks/{webhook.public_id}")
    assert detail.status_code == 200
    assert b"HTTP 502" in detail.content and b"502" in detail.content and b"delivered" in detail.content
    # Only the delivered row names its repo: a pending one may be of a repo the owner lost.
    assert detail.content.count(b"alice/model") == 1

    stranger = Client()
    stranger.force_login(bob)
    assert stranger.get(f"/settings/webhooks/{webhook.public_id}").status_code == 404
    assert webhook.public_id.encode() not in stranger.get("/settings/webhooks").content
    assert stranger.post(f"/settings/webhooks/{webhook.public_id}", {"action": "disable"}).status_code == 404
    webhook.refresh_from_db()
    assert webhook.disabled is False
    assert Client().get("/settings/webhooks").status_code == 302

    owner.post(f"/settings/webhooks/{webhook.public_id}", {"action": "disable"})
    webhook.refresh_from_db()
    assert webhook.disabled is True


def test_edits_hiding_pins_locks_and_restores_are_announced(
    alice, bob, receiver, allowed, django_capture_on_commit_callbacks
):
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo))
    discussion = community.discussion_create(repo=repo, author=bob, title="Idea", description="first")
    comment = community.comment_create(discussion=discussion, author=bob, raw="draft")
    with django_capture_on_commit_callbacks(execute=True):
        community.comment_edit(event=comment, editor=bob, raw="edited")
        community.comment_hide(event=comment, actor=alice)
        community.comment_hide(event=comment, actor=alice)  # hiding twice tells nothing more
        community.discussion_pin(discussion=discussion, pinned=True, actor=alice)
        community.discussion_lock(discussion=discussion, locked=True, actor=alice)
        community.discussion_lock(discussion=discussion, locked=True, actor=alice)  # no change
        registry_services.repo_delete(repo=repo)
        registry_services.repo_restore(repo=repo)
    told = [(r.json["event"]["scope"], r.json["event"]["action"]) for r in receiver.requests]
    assert told == [
        ("discussion.comment", "update"),
        ("discussion.comment", "update"),
        ("discussion", "update"),
        ("discussion", "update"),
        ("repo", "delete"),
        ("repo", "create"),
    ]
    edited, hidden = (WebhookPayload.model_validate_json(r.body) for r in receiver.requests[:2])
    # Each delivery tells what is true when it is attempted: the comment is hidden by then.
    assert edited.comment.id == hidden.comment.id and hidden.comment.hidden is True
    assert b"edited" not in receiver.requests[0].body
    pinned = WebhookPayload.model_validate_json(receiver.requests[2].body)
    assert pinned.discussion.num == discussion.num
