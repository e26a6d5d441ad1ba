"""Migration operations that keep a large PostgreSQL table online while they run.

`CREATE INDEX` holds a lock that blocks every write to the table until the index is built
(seconds to minutes on the data-at-scale set); `CREATE INDEX CONCURRENTLY` does not, at the cost of
running outside a transaction (the migration sets `atomic = False`). Other databases (SQLite, the
embedded default) build the index the plain way, which is what they can do.
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
