"""Migration operations that keep a large PostgreSQL table online while they run.

`CREATE INDEX` holds a lock that blocks every write to the table until the index is built
(seconds to minutes on the data-at-scale set); `CREATE INDEX CONCURRENTLY` does not, at the cost of
running outside a transaction (the migration sets `atomic = False`). Other databases (SQLite, the
embedded default) build the index the plain way, which is what they can do.

A concurrent build that fails or is stopped (a unique index over duplicates, a deadlock, the
migration killed) leaves its index behind marked INVALID: queries never use it, writes keep
maintaining it, and `IF NOT EXISTS` then skips it for good. Both operations here drop such a
leftover before they build, so running `migrate` again finishes the job.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """`AddIndex` that builds the index CONCURRENTLY on PostgreSQL (needs `atomic = False`)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            drop_invalid_index(schema_editor, self.index.name)
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)


class PostgresOnlySQL(migrations.RunSQL):
    """SQL for PostgreSQL alone (an extension, an index of a kind other databases lack)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class CreateIndexOnlineSQL(PostgresOnlySQL):
    """`CREATE INDEX CONCURRENTLY IF NOT EXISTS <name> ...` written by hand (an expression or a kind
    of index `models.Index` cannot say), for PostgreSQL alone, after dropping an INVALID leftover
    of a failed earlier build of the same index."""

    def __init__(self, *, name: str, sql: str, **kwargs) -> None:
        self.index_name = name
        super().__init__(sql=sql, reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}", **kwargs)

    def deconstruct(self):
        _, args, kwargs = super().deconstruct()
        kwargs.pop("reverse_sql", None)
        return self.__class__.__name__, args, {**kwargs, "name": self.index_name}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            drop_invalid_index(schema_editor, self.index_name)
        super().database_forwards(app_label, schema_editor, from_state, to_state)


def drop_invalid_index(schema_editor, name: str) -> bool:
    """Drop the index `name` if a failed concurrent build left it INVALID; whether it did."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        row = cursor.fetchone()
    if row is None or not row[0]:
        return False
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
    return True


class AlterFieldKeepingTriggers(migrations.AlterField):
    """`AlterField` on a table with triggers of its own (gating's change notifications): PostgreSQL
    refuses to change the type of a column a trigger names (`UPDATE OF role`), so on PostgreSQL
    the table's triggers are set aside around the change and made again as they were, in the
    migration's transaction. Found by an upgrade from a database where gating 0007 ran before
    accounts 0006 (its `role` grows to 16 characters): `migrate` failed there."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        with triggers_set_aside(schema_editor, model._meta.db_table):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        with triggers_set_aside(schema_editor, model._meta.db_table):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


@contextmanager
def triggers_set_aside(schema_editor, table: str):
    """On PostgreSQL: drop the user-defined triggers of `table`, then create them again as they were."""
    if schema_editor.connection.vendor != "postgresql":
        yield
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal ORDER BY tgname",
            [table],
        )
        triggers = cursor.fetchall()
    for name, _ in triggers:
        schema_editor.execute(f"DROP TRIGGER {schema_editor.quote_name(name)} ON {schema_editor.quote_name(table)}")
    yield
    for _, definition in triggers:
        schema_editor.execute(definition)
