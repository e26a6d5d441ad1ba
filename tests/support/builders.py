"""Test data: factory_boy factories plus helpers that go through the real services."""

from __future__ import annotations

import factory
import pytest
from factory.django import DjangoModelFactory

from accounts import services as account_services
from accounts.models import Membership, Organization, User
from registry import services
from registry.models import Repo

PASSWORD = "correct-horse-battery-9"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda obj: f"{obj.username}@example.org")
    password = factory.django.Password(PASSWORD)
    # Accounts made by tests act as accounts made before email verification existed (or by an
    # operator): they may act unverified. Tests of verification make new sign-ups themselves.
    email_verification_waived = True


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"org{n}")


def add_member(org: Organization, user: User, role: str) -> Membership:
    return Membership.objects.create(org=org, user=user, role=role)


def token_for(user: User, role: str = "write", name: str = "test") -> str:
    _, plaintext = account_services.token_create(user=user, name=name, role=role)
    return plaintext


def fine_token(
    user: User,
    scoped: list[tuple[object, list[str]]] = (),  # type: ignore[assignment]
    *,
    global_permissions: list[str] = (),  # type: ignore[assignment]
    gated: bool = False,
    expires_at=None,
    name: str = "fine",
) -> str:
    """A fine-grained token of `user`: `scoped` pairs an entity (a Repo, an Organization, or the
    user itself for their own namespace) with the Hub permission names it holds there."""
    from accounts.permissions import normalise

    def entity(target) -> tuple[str, int]:
        if isinstance(target, User):
            return ("user", target.pk)
        if isinstance(target, Organization):
            return ("org", target.pk)
        return ("repo", target.pk)

    data = normalise(
        scoped=[(*entity(target), perms) for target, perms in scoped],
        global_permissions=global_permissions,
        gated=gated,
    )
    _, plaintext = account_services.token_create(
        user=user, name=name, role="fineGrained", fine_grained=data, expires_at=expires_at
    )
    return plaintext


def make_repo(
    owner,
    name: str = "model",
    files: dict[str, bytes] | None = None,
    *,
    private: bool = False,
    repo_type: str = "model",
    author: User | None = None,
    summary: str = "add files",
) -> Repo:
    """A repo through the real services; `owner` is a User or an Organization."""
    namespace = owner.username if isinstance(owner, User) else owner.name
    author = author or (owner if isinstance(owner, User) else owner.members.first())
    repo = services.repo_create(namespace=namespace, name=name, repo_type=repo_type, private=private, creator=author)
    if files:
        commit_files(repo, files, author=author, summary=summary)
    return repo


def commit_files(repo: Repo, files: dict[str, bytes | None], *, author: User, branch: str = "main", summary="update"):
    """Add (bytes) or delete (None) files in one commit."""
    from registry.selectors import gitattributes_at

    attributes = gitattributes_at(repo, branch)
    operations = [
        services.blob_stage(repo=repo, path=path, content=content, gitattributes=attributes, proof_from=None)
        if content is not None
        else services.DeleteFile(path)
        for path, content in files.items()
    ]
    return services.commit_create(repo=repo, branch=branch, operations=operations, summary=summary, author=author)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")
