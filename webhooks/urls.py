from django.urls import re_path

from webhooks import api, views

api_urlpatterns = api.urlpatterns

web_urlpatterns = [
    re_path(r"^settings/webhooks$", views.WebhooksPage.as_view(), name="list"),
    re_path(r"^settings/webhooks/(?P<webhook_id>[^/]+)$", views.WebhookPage.as_view(), name="detail"),
]
