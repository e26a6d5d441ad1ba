import importlib

import pytest
from django.apps import apps

from registry.models import RepoObject
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db


def test_repo_object_backfill_covers_regular_and_lfs_content(alice):
    repo = make_repo(alice, "m", {"a.txt": b"alpha", "w.safetensors": b"\0" * 300})
    expected = set(RepoObject.objects.filter(repo=repo).values_list("sha256", flat=True))
    assert len(expected) == 3  # .gitattributes, a.txt, the weights
    RepoObject.objects.all().delete()
    migration = importlib.import_module("registry.migrations.0005_repo_object_backfill")
    migration.backfill(apps, None)
    assert set(RepoObject.objects.filter(repo=repo).values_list("sha256", flat=True)) == expected


def test_repos_made_before_created_by_get_the_author_of_their_root_commit(alice, bob):
    from accounts.models import Membership
    from registry.models import Repo
    from tests.support.builders import OrganizationFactory, commit_files

    org = OrganizationFactory(name="acme")
    Membership.objects.create(org=org, user=alice, role="admin")
    Membership.objects.create(org=org, user=bob, role="write")
    repo = make_repo(org, "m", author=bob)
    commit_files(repo, {"a.txt": b"later"}, author=alice)  # a later commit by someone else
    Repo.objects.update(created_by=None)
    migration = importlib.import_module("registry.migrations.0019_repo_creators_backfill")
    migration.creators_from_history(apps, None)
    assert Repo.objects.get(pk=repo.pk).created_by == bob
