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
