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


def test_commit_flag_migration_is_online_and_cautious_meanwhile(alice):
    """registry 0011 runs outside the column's transaction (1,091 s of blocked commit reads on the
    data-at-scale set otherwise): rows the older code inserts meanwhile take the database default,
    true (never read as made on a branch), and its last pass judges them again."""
    from django.db import connection

    from registry.models import Commit, Ref
    from tests.support.builders import commit_files

    migration = importlib.import_module("registry.migrations.0011_commit_made_on_pull_request")
    assert migration.Migration.atomic is False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_default FROM information_schema.columns"
            " WHERE table_name = 'registry_commit' AND column_name = 'made_on_pull_request'"
        )
        assert cursor.fetchone()[0] == "true"
    repo = make_repo(alice, "m")
    before = Commit.objects.order_by("-pk").values_list("pk", flat=True).first()
    commit_files(repo, {"a.txt": b"on main"}, author=alice)
    head = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid
    Commit.objects.filter(repo=repo, pk__gt=before).update(made_on_pull_request=True)  # as the default left them
    orphan = Commit.objects.get(repo=repo, oid=head)
    orphan.pk, orphan.oid = None, "f" * 40  # a commit no branch reaches, made during the walk
    orphan.save()
    migration._judge(Commit, Ref, repo.pk, only_since=before)
    assert not Commit.objects.get(repo=repo, oid=head).made_on_pull_request
    assert Commit.objects.get(repo=repo, oid="f" * 40).made_on_pull_request


def test_commit_flag_migration_run_again_after_an_interruption(alice):
    """Found by a review: an upgrade interrupted during the 300 s walk failed when run again (the
    column existed), and the walk never cleared the default's true on reached commits the older
    code made before the interruption."""
    from django.db import connection

    from registry.models import Commit, Ref
    from tests.support.builders import commit_files

    migration = importlib.import_module("registry.migrations.0011_commit_made_on_pull_request")
    with connection.schema_editor() as editor:
        migration.add_column(apps, editor)  # the column is there: nothing to do, no error
    repo = make_repo(alice, "m")
    commit_files(repo, {"a.txt": b"on main"}, author=alice)
    Commit.objects.filter(repo=repo).update(made_on_pull_request=True)  # the default, before the interruption
    migration.mark_pull_request_commits(apps, None)
    assert not Commit.objects.filter(repo=repo, made_on_pull_request=True).exists()
    assert Ref.objects.filter(repo=repo, name="refs/heads/main").exists()


@pytest.mark.django_db(transaction=True)
def test_takedown_and_creator_columns_are_added_online_and_leave_djangos_schema():
    """registry 0018 (reads of repos waited 413-426 ms on the data-at-scale set while Django's
    AddFields held the table lock): one short ALTER with the foreign keys NOT VALID, then each
    validated and each index built CONCURRENTLY; what it leaves is what the AddFields made."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("registry.migrations.0018_repo_takedown_and_creator")
    assert migration.Migration.atomic is False

    def schema() -> dict:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "registry_repo")
        return {
            name: (info["columns"], bool(info["foreign_key"]), info["index"])
            for name, info in constraints.items()
            if any(column in ("created_by_id", "disabled_by_id") for column in info["columns"])
        }

    latest = schema()
    try:
        MigrationExecutor(connection).migrate([("registry", "0017_repo_history_epoch")])
        assert schema() == {}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert schema() == latest
    if connection.vendor == "postgresql":
        assert set(latest) == set(migration.KEYS.values()) | set(migration.INDEXES.values())
        with connection.cursor() as cursor:
            keys = list(migration.KEYS.values())
            cursor.execute("SELECT bool_and(convalidated) FROM pg_constraint WHERE conname = ANY(%s)", [keys])
            assert cursor.fetchone()[0] is True
            cursor.execute(
                "SELECT bool_and(indisvalid), count(*) FROM pg_index WHERE indexrelid::regclass::text = ANY(%s)",
                [list(migration.INDEXES.values())],
            )
            assert cursor.fetchone() == (True, 2)


def test_the_repo_object_sha256_index_is_built_online():
    """registry 0009: as a plain AddIndex in the migration's transaction every commit waited for
    the build (5.6 s per 1,000,000 repo objects); CONCURRENTLY on PostgreSQL, first, so a failed
    build is dropped and built again by the next `migrate`."""
    from django.db import connection

    from core.migration_ops import AddIndexOnline

    migration = importlib.import_module("registry.migrations.0009_quarantined_content").Migration
    assert migration.atomic is False
    assert isinstance(migration.operations[0], AddIndexOnline)
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "registry_repoobject")
    assert constraints["repo_object_sha256"]["columns"] == ["sha256"]
