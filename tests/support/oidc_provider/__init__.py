"""A real OpenID Connect provider for the SSO tests: a second, tiny Django project on
django-oauth-toolkit's OIDC support, run as its own process with its own settings and SQLite
database (`python -m tests.support.oidc_provider`; tests/support/oidc.py starts it).

Its users, their email and `email_verified`, and their groups are set by the tests through
POST /test/users, which takes a control secret given at start. Nothing of Gatehouse is imported.
"""
