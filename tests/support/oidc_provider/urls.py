import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tests.support.oidc_provider.models import Claims


@csrf_exempt
@require_POST
def set_user(request):
    """Test control: create or update a user and what the provider says about them."""
    if not secrets.compare_digest(request.headers.get("X-Control-Secret", ""), settings.CONTROL_SECRET):
        return HttpResponse(status=403)
    data = json.loads(request.body)
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=data["username"])
        user.email = data.get("email", "")
        user.set_password(data["password"])
        user.save()
        Claims.objects.update_or_create(
            user=user,
            defaults={
                "subject": data.get("sub") or f"sub-{user.pk}",
                "email_verified": bool(data.get("email_verified", False)),
                "groups": list(data.get("groups", [])),
            },
        )
    return JsonResponse({"sub": user.claims.subject})


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("test/users", set_user),
]
