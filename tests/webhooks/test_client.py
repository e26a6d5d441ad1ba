"""The real huggingface_hub client against a live server: every webhook method, and an event
made through the client reaching a loopback receiver in the Hub's payload shape."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi, WebhookPayload, WebhookWatchedItem
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.support.builders import make_repo, token_for
from webhooks.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_webhook_methods_round_trip(hub, alice, bob):
    make_repo(alice, "model")
    make_repo(alice, "data", repo_type="dataset")
    make_repo(bob, "hidden", private=True)
    api = HfApi(token=token_for(alice))

    created = api.create_webhook(
        url="https://hooks.example.org/gatehouse",
        watched=[WebhookWatchedItem(type="model", name="alice/model"), {"type": "user", "name": "bob"}],
        domains=["repo"],
        secret="s3cret",
    )
    assert len(created.id) == 24 and created.url == "https://hooks.example.org/gatehouse" and created.job is None
    assert created.watched == [
        WebhookWatchedItem(type="model", name="alice/model"),
        WebhookWatchedItem(type="user", name="bob"),
    ]
    assert created.domains == ["repo"] and created.secret == "s3cret" and created.disabled is False

    assert api.get_webhook(created.id) == created
    assert api.list_webhooks() == [created]

    updated = api.update_webhook(
        created.id,
        url="https://hooks.example.org/v2",
        watched=[{"type": "dataset", "name": "alice/data"}],
        domains=["repo", "discussion"],
    )
    assert updated.url == "https://hooks.example.org/v2" and updated.secret == "s3cret"
    assert updated.watched == [WebhookWatchedItem(type="dataset", name="alice/data")]
    assert updated.domains == ["repo", "discussion"]
    # The client sends "watched": [] when the argument is left out: the list is kept.
    assert api.update_webhook(created.id, secret="new").watched == updated.watched

    assert api.disable_webhook(created.id).disabled is True
    assert api.enable_webhook(created.id).disabled is False

    # A repo the caller cannot see is a missing repo, with the same error.
    with pytest.raises(RepositoryNotFoundError):
        api.create_webhook(url="https://hooks.example.org/", watched=[{"type": "model", "name": "bob/hidden"}])
    with pytest.raises(RepositoryNotFoundError):
        api.create_webhook(url="https://hooks.example.org/", watched=[{"type": "model", "name": "bob/nothing"}])
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_webhook(url="http://169.254.169.254/", watched=[{"type": "user", "name": "alice"}])
    assert refused.value.response.status_code == 400 and "GATEHOUSE_WEBHOOK_ALLOW_PRIVATE" in str(refused.value)
    with pytest.raises(HfHubHTTPError) as jobs:
        api.create_webhook(job_id="abc", watched=[{"type": "user", "name": "alice"}])
    assert jobs.value.response.status_code == 400

    api.delete_webhook(created.id)
    assert api.list_webhooks() == []
    with pytest.raises(HfHubHTTPError) as gone:
        api.get_webhook(created.id)
    assert gone.value.response.status_code == 404


def test_events_made_through_the_client_reach_the_receiver(hub, alice, bob, receiver, settings):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    make_repo(alice, "model")
    alice_api, bob_api = HfApi(token=token_for(alice)), HfApi(token=token_for(bob))
    webhook = bob_api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "alice"}], secret="hush")

    alice_api.upload_file(path_or_fileobj=b"hello", path_in_repo="notes.txt", repo_id="alice/model")
    alice_api.create_branch("alice/model", branch="dev")
    alice_api.create_tag("alice/model", tag="v1")
    alice_api.delete_tag("alice/model", tag="v1")
    discussion = bob_api.create_discussion("alice/model", "Question", description="Which data?")
    alice_api.comment_discussion("alice/model", discussion.num, "The usual.")
    bob_api.change_discussion_status("alice/model", discussion.num, "closed")
    alice_api.update_repo_settings("alice/model", gated="auto")
    alice_api.move_repo("alice/model", "alice/renamed")

    payloads = [WebhookPayload.model_validate_json(r.body) for r in receiver.requests]
    assert all(r.headers["x-webhook-secret"] == "hush" for r in receiver.requests)
    assert all(p.webhook.id == webhook.id for p in payloads)
    events = [(p.event.scope, p.event.action) for p in payloads]
    assert events == [
        ("repo.content", "update"),  # the upload
        ("repo.content", "update"),  # branch dev
        ("repo.content", "update"),  # tag v1
        ("repo.content", "update"),  # tag v1 deleted
        ("discussion", "create"),
        ("discussion.comment", "create"),
        ("discussion", "update"),
        ("repo.config", "update"),
        ("repo", "move"),
    ]
    upload, branch, tag, untag, opened, comment, closed, config, moved = payloads
    assert upload.updatedRefs[0].ref == "refs/heads/main" and upload.updatedRefs[0].oldSha
    assert (branch.updatedRefs[0].ref, branch.updatedRefs[0].oldSha) == ("refs/heads/dev", None)
    assert (tag.updatedRefs[0].ref, untag.updatedRefs[0].newSha) == ("refs/tags/v1", None)
    assert opened.discussion.num == discussion.num and opened.discussion.title == "Question"
    assert opened.discussion.isPullRequest is False and opened.comment.content == "Which data?"
    assert comment.comment.content == "The usual." and comment.comment.hidden is False
    assert closed.discussion.status == "closed"
    assert receiver.requests[7].json["updatedConfig"] == {"gated": "auto"}
    assert moved.repo.name == "alice/model" and moved.movedTo.name == "alice/renamed"
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 9


def test_strangers_and_read_tokens(hub, alice, bob):
    make_repo(alice, "model")
    owner = HfApi(token=token_for(alice))
    webhook = owner.create_webhook(url="https://hooks.example.org/", watched=[{"type": "model", "name": "alice/model"}])
    stranger = HfApi(token=token_for(bob))
    for call in (
        lambda: stranger.get_webhook(webhook.id),
        lambda: stranger.update_webhook(webhook.id, url="https://evil.example.org/"),
        lambda: stranger.disable_webhook(webhook.id),
        lambda: stranger.enable_webhook(webhook.id),
        lambda: stranger.delete_webhook(webhook.id),
    ):
        with pytest.raises(HfHubHTTPError) as missing:
            call()
        assert missing.value.response.status_code == 404
        assert missing.value.response.json()["error"] == "Webhook not found."
    assert stranger.list_webhooks() == []
    with pytest.raises(HfHubHTTPError) as suffixed:  # ids match exactly, not by their first 24 characters
        owner.get_webhook(f"{webhook.id}0")
    assert suffixed.value.response.status_code == 404

    reader = HfApi(token=token_for(alice, role="read"))
    assert reader.list_webhooks() == [webhook] and reader.get_webhook(webhook.id) == webhook
    for call in (
        lambda: reader.create_webhook(url="https://hooks.example.org/", watched=[{"type": "user", "name": "alice"}]),
        lambda: reader.update_webhook(webhook.id, url="https://evil.example.org/"),
        lambda: reader.disable_webhook(webhook.id),
        lambda: reader.delete_webhook(webhook.id),
    ):
        with pytest.raises(HfHubHTTPError) as forbidden:
            call()
        assert forbidden.value.response.status_code == 403

    anonymous = HfApi(token=False)
    with pytest.raises(HfHubHTTPError) as unauthenticated:
        anonymous.list_webhooks()
    assert unauthenticated.value.response.status_code == 401
    assert owner.get_webhook(webhook.id) == webhook  # nothing changed
