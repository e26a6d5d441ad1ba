"""Portal pages: /settings/webhooks (the signed-in user's webhooks) and
/settings/webhooks/{id} (one webhook and its recent deliveries: status, response code, error;
enable, disable). Each acts on the signed-in user's own webhooks only; another user's is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views import View

from core.errors import NotFound
from gating.repo_views import render_error
from webhooks import services
from webhooks.models import DeliveryStatus
from webhooks.selectors import deliveries_of, webhooks_of


def _login(request):
    return redirect(f"/login?next={request.path}")


class WebhooksPage(View):
    def get(self, request):
        if not request.user.is_authenticated:
            return _login(request)
        return render(request, "webhooks/list.html", {"webhooks": webhooks_of(request.user)})


class WebhookPage(View):
    def _webhook(self, request, webhook_id: str):
        return webhooks_of(request.user).filter(public_id=webhook_id.lower()).first()

    def get(self, request, webhook_id):
        if not request.user.is_authenticated:
            return _login(request)
        webhook = self._webhook(request, webhook_id)
        if webhook is None:
            return render_error(request, NotFound("Webhook not found."))
        context = {
            "webhook": webhook,
            "deliveries": deliveries_of(webhook),
            # SECURITY: only delivered rows name their repo (what the owner was told); a pending,
            # failed or skipped one may be of a repo its owner can no longer see.
            "delivered": DeliveryStatus.DELIVERED,
        }
        return render(request, "webhooks/detail.html", context)

    def post(self, request, webhook_id):
        if not request.user.is_authenticated:
            return _login(request)
        webhook = self._webhook(request, webhook_id)
        if webhook is None:
            return render_error(request, NotFound("Webhook not found."))
        action = request.POST.get("action")
        if action in ("enable", "disable"):
            services.webhook_set_disabled(webhook=webhook, disabled=action == "disable")
            messages.success(request, f"Webhook {action}d.")
        elif action == "delete":
            services.webhook_delete(webhook=webhook)
            messages.success(request, "Webhook deleted.")
            return redirect("/settings/webhooks")
        return redirect(f"/settings/webhooks/{webhook.public_id}")
