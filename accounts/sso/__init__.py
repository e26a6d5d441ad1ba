"""Single sign-on with OpenID Connect, on mozilla-django-oidc (README, "Single sign-on").

config.py reads the operator's settings and the provider's discovery document; services.py
matches a provider identity to an account and maps its groups to organisation roles; backend.py
and views.py adapt mozilla-django-oidc's code flow (state, nonce, PKCE, token exchange) to them.
"""
