"""The authorization matrix's world (STYLE.md): one org repo with a config and weights, and a
caller of every kind, under every gate mode and release stage. Shared by the matrices of the
download routes (tests/gating) and of webhooks (tests/webhooks)."""

from __future__ import annotations

from gating import release
from gating.models import AccessRequest
from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo

# The org's members, whatever their role: they see its private repos and pass its gates.
INSIDERS = ("member", "contributor", "writer", "owner")
SECRET = b'{"marker": "SECRET-CONTENT"}'
STAGES = {
    "public": release.StageSpec(mode="public"),
    "auto": release.StageSpec(mode="gated_auto"),
    "manual": release.StageSpec(mode="gated_manual"),
    "private": release.StageSpec(mode="private"),
    "withheld": release.StageSpec(mode="gated_manual", withheld_patterns=("*.safetensors",)),
}


def matrix_world():
    """(repo `acme/m`, its org, its owner, {caller kind: user}) for the signed-in callers:
    stranger, pending and approved requesters, and the org's four roles: reader (`member`),
    contributor (who did not create the repo), writer and admin (`owner`, who created it)."""
    owner, member = UserFactory(username="olga"), UserFactory(username="mike")
    contributor, writer = UserFactory(username="cora"), UserFactory(username="walt")
    org = OrganizationFactory(name="acme")
    add_member(org, owner, "admin")
    add_member(org, member, "read")
    add_member(org, contributor, "contributor")
    add_member(org, writer, "write")
    repo = make_repo(org, "m", {"config.json": SECRET, "model.safetensors": b"\0" * 128}, author=owner)
    users = {
        "stranger": UserFactory(username="sam"),
        "pending": UserFactory(username="pat"),
        "approved": UserFactory(username="abe"),
        "member": member,
        "contributor": contributor,
        "writer": writer,
        "owner": owner,
    }
    AccessRequest.objects.create(repo=repo, user=users["pending"], status="pending")
    AccessRequest.objects.create(repo=repo, user=users["approved"], status="accepted")
    return repo, org, owner, users
