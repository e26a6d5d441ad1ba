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
