"""/api/settings/webhooks: the Hub client's create_webhook, get_webhook, list_webhooks,
update_webhook, enable_webhook, disable_webhook and delete_webhook.

A webhook is its owner's alone: anyone else gets the 404 of a webhook that does not exist.
Reading takes user.webhooks.read (any classic token), changes user.webhooks.write (a classic write
token, or a session): gating.policy.check_token. Watched repos
are resolved through gating.policy: one the caller cannot see answers exactly as a missing repo.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import Organization, User
from core import edge
from core.api import SignedIn
from core.errors import BadRequest, NotFound, RepoMoved
from gating.policy import Action, Principal, check_token, check_verified, resolve_repo
from webhooks import schema, services, transport
from webhooks.models import Webhook
from webhooks.selectors import webhooks_of

REPO_KINDS = ("model", "dataset")
WEBHOOK_ID = r"(?P<webhook_id>[^/]+)"


def describe(webhook: Webhook) -> dict:
    return {
        "id": webhook.public_id,
        "url": webhook.url,
        "job": None,
        "watched": [{"type": item.kind, "name": item.name} for item in webhook.watched.all()],
        "domains": list(webhook.domains),
        "secret": webhook.secret or None,
        "disabled": webhook.disabled,
    }


def _principal_may(request, permission: str) -> Principal:
    principal = Principal.from_request(request)
    own = ((permissions.USER, request.user.pk),)
    check_token(principal, permission, own, what="manage webhooks", where="your webhooks")
    return principal


def _principal_may_write(request) -> Principal:
    return _principal_may(request, permissions.USER_WEBHOOKS_WRITE)


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("'url' must be a string.")
    try:
        refusal = transport.literal_refusal(value, allow_private=settings.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE)
    except transport.Refused as exc:
        raise BadRequest(str(exc))
    if refusal:
        raise BadRequest(f"Webhook URL refused: {refusal}.")
    return value


def _repo(principal: Principal, kind: str, name: str):
    """SECURITY: the policy's VIEW check; a repo the caller cannot see is a RepoNotFound, the
    same as one that does not exist. A moved repo is watched under its new id."""
    try:
        return resolve_repo(principal, kind, name, Action.VIEW).repo
    except RepoMoved as moved:
        return resolve_repo(principal, kind, moved.new_id, Action.VIEW).repo


def _target(principal: Principal, item: object) -> services.WatchTarget:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str) or not isinstance(item.get("name"), str):
        raise BadRequest('Each watched item must be {"type": "model"|"dataset"|"user"|"org", "name": "..."}.')
    kind, name = item["type"], item["name"]
    if not name or len(name) > 200:
        raise BadRequest("A watched item's name must be 1 to 200 characters.")
    if kind in REPO_KINDS:
        return services.WatchTarget(kind=kind, name=name, repo=_repo(principal, kind, name))
    if kind == "user":
        user = User.objects.filter(username__iexact=name, is_active=True).first()
        if user is None:
            raise NotFound(f"User {name!r} not found.")
        return services.WatchTarget(kind=kind, name=user.username, user=user)
    if kind == "org":
        org = Organization.objects.filter(name__iexact=name).first()
        if org is None:
            raise NotFound(f"Organization {name!r} not found.")
        return services.WatchTarget(kind=kind, name=org.name, org=org)
    raise BadRequest(f"Gatehouse webhooks watch models, datasets, users and orgs, not {kind[:20]!r}.")


def _targets(principal: Principal, value: object) -> list[services.WatchTarget]:
    if not isinstance(value, list):
        raise BadRequest("'watched' must be a list of {type, name} items.")
    if len(value) > services.MAX_WATCHED:
        raise BadRequest(f"A webhook watches at most {services.MAX_WATCHED} items.")
    return [_target(principal, item) for item in value]


def _refuse_jobs(data: dict) -> None:
    if "jobSourceId" in data or "secrets" in data:
        raise BadRequest("Gatehouse does not run Jobs: a webhook needs a 'url'.")


def _own_webhook(request, webhook_id: str) -> Webhook:
    """SECURITY: another user's webhook is missing, with the answer of one that never existed."""
    webhook = webhooks_of(request.user).filter(public_id=webhook_id.lower()).first()
    if webhook is None:
        raise NotFound("Webhook not found.")
    return webhook


class WebhooksView(APIView):
    """GET: the caller's webhooks. POST: create one."""

    permission_classes = [SignedIn]

    @extend_schema(responses=schema.WebhookSerializer(many=True))
    def get(self, request):
        _principal_may(request, permissions.USER_WEBHOOKS_READ)
        return Response([describe(webhook) for webhook in webhooks_of(request.user)])

    @extend_schema(
        operation_id="webhook_create",
        request=schema.WebhookCreateSerializer,
        responses=schema.WebhookEnvelopeSerializer,
    )
    def post(self, request):
        principal = _principal_may_write(request)
        # Found by an outsider attack: an unverified sign-up could make the hub send requests.
        check_verified(principal)
        data = edge.json_object(request)
        _refuse_jobs(data)
        if "url" not in data:
            raise BadRequest("A webhook needs a 'url'.")
        webhook = services.webhook_create(
            owner=request.user,
            url=_url(data["url"]),
            watched=_targets(principal, data.get("watched")),
            domains=data.get("domains", ["repo", "discussion"]),
            secret=data.get("secret", ""),
        )
        return Response({"webhook": describe(webhook)})


class WebhookView(APIView):
    """GET: one webhook. POST: update it. DELETE: delete it."""

    permission_classes = [SignedIn]

    @extend_schema(responses=schema.WebhookEnvelopeSerializer)
    def get(self, request, webhook_id):
        _principal_may(request, permissions.USER_WEBHOOKS_READ)
        return Response({"webhook": describe(_own_webhook(request, webhook_id))})

    @extend_schema(
        operation_id="webhook_update",
        request=schema.WebhookUpdateSerializer,
        responses=schema.WebhookEnvelopeSerializer,
    )
    def post(self, request, webhook_id):
        principal = _principal_may_write(request)
        webhook = _own_webhook(request, webhook_id)
        data = edge.json_object(request)
        _refuse_jobs(data)
        webhook = services.webhook_update(
            webhook=webhook,
            url=_url(data["url"]) if "url" in data else None,
            watched=_targets(principal, data["watched"]) if "watched" in data else None,
            domains=data.get("domains"),
            secret=data.get("secret"),
        )
        return Response({"webhook": describe(webhook)})

    @extend_schema(responses=schema.WebhookDeletedSerializer)
    def delete(self, request, webhook_id):
        _principal_may_write(request)
        services.webhook_delete(webhook=_own_webhook(request, webhook_id))
        return Response({"deleted": True})


class WebhookSwitchView(APIView):
    """POST .../enable or .../disable."""

    permission_classes = [SignedIn]
    disable = False

    @extend_schema(request=None, responses=schema.WebhookEnvelopeSerializer)
    def post(self, request, webhook_id):
        _principal_may_write(request)
        webhook = services.webhook_set_disabled(webhook=_own_webhook(request, webhook_id), disabled=self.disable)
        return Response({"webhook": describe(webhook)})


urlpatterns = [
    re_path(r"^api/settings/webhooks$", WebhooksView.as_view(), name="api-webhooks"),
    re_path(rf"^api/settings/webhooks/{WEBHOOK_ID}$", WebhookView.as_view(), name="api-webhook"),
    re_path(
        rf"^api/settings/webhooks/{WEBHOOK_ID}/enable$", WebhookSwitchView.as_view(disable=False), name="api-enable"
    ),
    re_path(
        rf"^api/settings/webhooks/{WEBHOOK_ID}/disable$", WebhookSwitchView.as_view(disable=True), name="api-disable"
    ),
]
