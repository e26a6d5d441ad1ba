"""Delivery to loopback receivers (127.0.0.2, ::1): refused by default, delivered once allowed,
retried with backoff and logged when the receiver fails, never redirected, and in the Hub's
payload shape (parsed with huggingface_hub's WebhookPayload) with its secret header."""

from __future__ import annotations

import pytest
from huggingface_hub import WebhookPayload

from tests.support.builders import commit_files, make_repo
from tests.webhooks.helpers import make_webhook, watch_repo, watch_user
from webhooks.delivery import delivery_attempt
from webhooks.models import Delivery, DeliveryStatus, Webhook

pytestmark = pytest.mark.django_db


def _commit(repo, user, capture, files=None):
    with capture(execute=True):
        commit_files(repo, files or {"weights.txt": b"v2"}, author=user)


def test_loopback_is_refused_by_default_and_delivered_once_allowed(
    alice, receiver, settings, django_capture_on_commit_callbacks
):
    repo = make_repo(alice, "model")
    # A name that resolves to loopback is refused at delivery, on the address it resolves to.
    by_name = make_webhook(alice, f"http://localhost:{receiver.port}/hook", watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks)
    refused = Delivery.objects.get(webhook=by_name)
    assert refused.status == DeliveryStatus.REFUSED and refused.attempts == 1
    assert "loopback" in refused.error and "GATEHOUSE_WEBHOOK_ALLOW_PRIVATE" in refused.error
    assert receiver.requests == []

    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    by_name.delete()
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": b"v3"})
    delivery = Delivery.objects.get(webhook=webhook)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.DELIVERED, 1, 200)
    [request] = receiver.requests
    assert request.headers["x-webhook-secret"] == "s3cret"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.2:{receiver.port}"
    payload = WebhookPayload.model_validate_json(request.body)
    assert (payload.event.scope, payload.event.action) == ("repo.content", "update")
    assert payload.repo.name == "alice/model" and payload.repo.type == "model" and payload.repo.private is False
    assert payload.webhook.id == webhook.public_id and payload.webhook.version == 3
    head = repo.refs.get(name="refs/heads/main").commit_oid
    assert payload.updatedRefs[0].ref == "refs/heads/main" and payload.updatedRefs[0].newSha == head
    assert request.json["repo"]["headSha"] == head
    assert payload.repo.url.web == "http://hub.test/alice/model"

    # Allowance withdrawn: a webhook saved while it was allowed is refused at delivery.
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = False
    _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": b"v4"})
    latest = Delivery.objects.filter(webhook=webhook).latest("pk")
    assert latest.status == DeliveryStatus.REFUSED and len(receiver.requests) == 1


def test_ipv6_loopback(alice, receiver6, settings, django_capture_on_commit_callbacks):
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver6.url, watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks)
    assert Delivery.objects.get(webhook=webhook).status == DeliveryStatus.REFUSED
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": b"v3"})
    assert Delivery.objects.filter(webhook=webhook).latest("pk").status == DeliveryStatus.DELIVERED
    assert len(receiver6.requests) == 1 and receiver6.requests[0].headers["host"] == f"[::1]:{receiver6.port}"


def test_failing_receiver_is_retried_then_logged(alice, receiver, settings, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))

    receiver.answers = [500, 503]  # two failures, then 200
    _commit(repo, alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(webhook=webhook)
    assert (delivery.status, delivery.attempts, delivery.response_status) == (DeliveryStatus.DELIVERED, 3, 200)
    assert len(receiver.requests) == 3 and len({r.body for r in receiver.requests}) == 1
    assert {r.headers["x-webhook-delivery"] for r in receiver.requests} == {str(delivery.pk)}  # idempotency key

    receiver.answers = [500] * 10  # never works: 5 attempts, then failed and logged
    _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": b"v3"})
    failed = Delivery.objects.filter(webhook=webhook).latest("pk")
    assert (failed.status, failed.attempts, failed.response_status) == (DeliveryStatus.FAILED, 5, 500)
    assert failed.error == "HTTP 500" and failed.finished_at is not None
    assert len(receiver.requests) == 3 + 5
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 1 and webhook.disabled is False


def test_backoff_is_exponential(alice, receiver, settings, held, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    settings.GATEHOUSE_WEBHOOK_RETRY_BASE_SECONDS = 10.0
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks)
    [pk] = held
    receiver.answers = [500] * 5
    delays = []
    for _ in range(5):
        Delivery.objects.filter(pk=pk).update(next_attempt_at=Delivery.objects.get(pk=pk).created_at)
        result = delivery_attempt(pk)
        delays.append(result.retry_in)
    assert delays == [10.0, 20.0, 40.0, 80.0, None]
    assert Delivery.objects.get(pk=pk).status == DeliveryStatus.FAILED
    assert delivery_attempt(pk) is None  # finished: a task run again does nothing


def test_webhook_disabled_after_repeated_failures(alice, receiver, settings, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    settings.GATEHOUSE_WEBHOOK_MAX_ATTEMPTS = 1
    settings.GATEHOUSE_WEBHOOK_DISABLE_AFTER = 2
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    receiver.answers = [404] * 5
    for n in range(3):
        _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": f"v{n}".encode()})
    webhook.refresh_from_db()
    assert webhook.disabled and "2 failed deliveries in a row" in webhook.disabled_reason
    assert len(receiver.requests) == 2  # the third event found it disabled and recorded nothing
    assert Delivery.objects.filter(webhook=webhook).count() == 2


def test_redirects_are_not_followed_and_timeouts_bounded(alice, receiver, settings, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    settings.GATEHOUSE_WEBHOOK_MAX_ATTEMPTS = 1
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    receiver.answers, receiver.location = [307], "http://169.254.169.254/latest/meta-data/"
    _commit(repo, alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(webhook=webhook)
    assert delivery.status == DeliveryStatus.FAILED and delivery.response_status == 307
    assert "redirects are not followed" in delivery.error and len(receiver.requests) == 1

    settings.GATEHOUSE_WEBHOOK_TIMEOUT = 0.3
    receiver.location, receiver.delay = "", 1.0
    _commit(repo, alice, django_capture_on_commit_callbacks, {"weights.txt": b"v3"})
    slow = Delivery.objects.filter(webhook=webhook).latest("pk")
    assert slow.status == DeliveryStatus.FAILED and slow.error == "timed out" and slow.response_status is None


def test_only_what_the_owner_may_see(alice, bob, receiver, settings, held, django_capture_on_commit_callbacks):
    """bob watches alice's namespace: her private repo's events are never recorded for him; a
    repo he watched and that became private is skipped at delivery, without a request."""
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    public = make_repo(alice, "public")
    secret_repo = make_repo(alice, "secret", private=True)
    webhook = make_webhook(bob, receiver.url, watch_user(alice))
    _commit(secret_repo, alice, django_capture_on_commit_callbacks)
    assert held == [] and not Delivery.objects.filter(webhook=webhook).exists()

    _commit(public, alice, django_capture_on_commit_callbacks)
    [pk] = held
    from registry import services as registry_services

    with django_capture_on_commit_callbacks(execute=True):
        registry_services.repo_settings_update(repo=public, private=True, actor=alice)
    assert held == [pk]  # the config event of a repo bob can no longer see: nothing for him
    result = delivery_attempt(pk)
    assert result.status == DeliveryStatus.SKIPPED and receiver.requests == []
    skipped = Delivery.objects.get(pk=pk)
    assert "can no longer see" in skipped.error and skipped.attempts == 1


def test_rolled_back_writes_announce_nothing(alice, receiver, settings, django_capture_on_commit_callbacks):
    from django.db import transaction

    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        commit_files(repo, {"weights.txt": b"v2"}, author=alice)
        raise RuntimeError("rolled back")
    assert not Delivery.objects.filter(webhook=webhook).exists() and receiver.requests == []


def test_deleted_webhook_stops_its_deliveries(alice, receiver, settings, held, django_capture_on_commit_callbacks):
    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    repo = make_repo(alice, "model")
    webhook = make_webhook(alice, receiver.url, watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks)
    [pk] = held
    Webhook.objects.filter(pk=webhook.pk).update(disabled=True)
    assert delivery_attempt(pk).status == DeliveryStatus.SKIPPED
    webhook.delete()
    assert delivery_attempt(pk) is None and receiver.requests == []


def test_lost_tasks_are_requeued_by_the_beat(alice, receiver, settings, held, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.services import deliveries_requeue_stale

    settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE = True
    repo = make_repo(alice, "model")
    make_webhook(alice, receiver.url, watch_repo(repo))
    _commit(repo, alice, django_capture_on_commit_callbacks)
    [pk] = held
    assert deliveries_requeue_stale() == 0  # just queued: not lost yet
    later = timezone.now() + timedelta(minutes=5)
    assert deliveries_requeue_stale(now=later) == 1 and held == [pk, pk]
    # A worker that died mid-attempt leaves it sending; its lease lapses and it is taken again.
    lease = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=pk).update(status=DeliveryStatus.SENDING, lease_until=lease)
    assert delivery_attempt(pk) is None  # another worker holds it: nothing is sent twice
    assert deliveries_requeue_stale(now=later) == 1
    Delivery.objects.filter(pk=pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert delivery_attempt(pk).status == DeliveryStatus.DELIVERED and len(receiver.requests) == 1
