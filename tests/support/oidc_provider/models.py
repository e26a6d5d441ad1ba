from django.conf import settings
from django.db import models


class Claims(models.Model):
    """What the provider says about a user beyond its name: set by the tests."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims")
    email_verified = models.BooleanField(default=False)
    groups = models.JSONField(default=list)
    # The `sub` the provider sends; a test may give two users the same email, never the same sub.
    subject = models.CharField(max_length=64, unique=True)
