"""core.migration_ops: a concurrent index build that failed leaves an INVALID index behind, which
`IF NOT EXISTS` would skip for good; the operations drop it and build again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.state import ProjectState

from core.migration_ops import CreateIndexOnlineSQL, drop_invalid_index

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent builds are PostgreSQL's"),
]

BUILD = "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS scratch_value_unique ON scratch_values (value)"


def _index_state() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('scratch_value_unique')")
        row = cursor.fetchone()
    return None if row is None else ("valid" if row[0] else "invalid")


@pytest.fixture
def scratch_table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_values (value integer)")
        cursor.execute("INSERT INTO scratch_values VALUES (1), (1)")  # a unique build fails on these
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scratch_values")


def test_a_failed_build_is_dropped_and_built_again(scratch_table):
    operation = CreateIndexOnlineSQL(name="scratch_value_unique", sql=BUILD)
    state = ProjectState()
    with (
        pytest.raises(Exception, match="could not create unique index"),
        connection.schema_editor(atomic=False) as editor,
    ):
        operation.database_forwards("core", editor, state, state)
    assert _index_state() == "invalid"
    with connection.schema_editor(atomic=False) as editor:
        editor.execute(BUILD)  # what IF NOT EXISTS does with the leftover: nothing
    assert _index_state() == "invalid"

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM scratch_values WHERE ctid = (SELECT min(ctid) FROM scratch_values)")
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("core", editor, state, state)
    assert _index_state() == "valid"
    with connection.schema_editor(atomic=False) as editor:
        assert drop_invalid_index(editor, "scratch_value_unique") is False  # a valid index is kept
    assert _index_state() == "valid"


def _token_triggers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = 'accounts_accesstoken'::regclass AND NOT tgisinternal ORDER BY tgname"
        )
        return [row[0] for row in cursor.fetchall()]


def test_accounts_0006_changes_the_token_role_under_gating_0007s_trigger_both_ways():
    """An upgrade where gating 0007 (a trigger naming `role`) ran before accounts 0006 (which
    widens `role`): PostgreSQL refused the change and `migrate` stopped. AlterFieldKeepingTriggers
    sets the triggers aside and makes them again as they were."""
    from django.db.migrations.executor import MigrationExecutor

    latest = _token_triggers()
    assert any("UPDATE OF" in definition and " role," in definition for definition in latest)
    try:
        MigrationExecutor(connection).migrate([("accounts", "0005_org_roles_invitations")])  # 0006 backwards
        assert any("UPDATE OF" in definition and " role," in definition for definition in _token_triggers())
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())  # 0006 forwards, the trigger in place

    assert _token_triggers() == latest
