"""Reads of accounts: users and organisations by name."""

from __future__ import annotations

from accounts.models import Organization, User


def canonical_namespace(namespace: str) -> str:
    """Namespaces are case-insensitive, as repo ids are: the name as its user or organisation
    spells it, or `namespace` itself when nobody has it."""
    user = User.objects.filter(username__iexact=namespace).values_list("username", flat=True).first()
    return (
        user or Organization.objects.filter(name__iexact=namespace).values_list("name", flat=True).first() or namespace
    )
