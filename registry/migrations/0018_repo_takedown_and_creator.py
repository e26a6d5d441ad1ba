"""Takedowns (`Repo.disabled_*`) and `Repo.created_by`.

Online, for upgrades of big hubs: as Django's four AddFields, one transaction held the lock of the
first ADD COLUMN on every repo while Django rebuilt its model states between the next ones
(every model naming the repo), checked the new foreign keys and built their two indexes: every
read of a repo waited, up to 2.1 s on the data-at-scale set. Here, on PostgreSQL, the four
columns are added by one operation in one short transaction (catalogue changes: the foreign keys
NOT VALID, so no repo is read under the lock), the keys are validated in their own transactions
(a lock that lets reads and writes go on) and the indexes are built CONCURRENTLY. The schema it
leaves is the one the AddFields made. Not atomic: interrupted after the columns, `migrate` runs it
again from there (the validation and the index builds can be repeated).

The creators of repos made before the field are filled in by 0019, online: in this migration's
transaction, the UPDATE of every repo held the lock of the ADD COLUMNs (62 s of every request
waiting on the data-at-scale set).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.state import ProjectState

from core.migration_ops import CreateIndexOnlineSQL, PostgresOnlySQL


def _user_key():
    on_delete = django.db.models.deletion.SET_NULL
    return models.ForeignKey(blank=True, null=True, on_delete=on_delete, related_name="+", to=settings.AUTH_USER_MODEL)


COLUMNS = {
    "created_by": _user_key(),
    "disabled_at": models.DateTimeField(blank=True, null=True),
    "disabled_by": _user_key(),
    "disabled_reason": models.CharField(blank=True, max_length=500),
}
# The names Django gives these constraints and indexes, so the schema is the one AddField makes.
KEYS = {
    "created_by_id": "registry_repo_created_by_id_87b31093_fk_accounts_user_id",
    "disabled_by_id": "registry_repo_disabled_by_id_339f51f3_fk_accounts_user_id",
}
INDEXES = {
    "created_by_id": "registry_repo_created_by_id_87b31093",
    "disabled_by_id": "registry_repo_disabled_by_id_339f51f3",
}


def add_columns(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        # As AddField does, one field at a time: SQLite copies the table for some fields, from
        # the model it is given, so each next field is added to the model the previous ones made.
        state = ProjectState.from_apps(apps)
        for name, field in COLUMNS.items():
            before = state.apps.get_model("registry", "Repo")
            state.add_field("registry", "repo", name, field.clone(), preserve_default=True)
            schema_editor.add_field(before, state.apps.get_model("registry", "Repo")._meta.get_field(name))
        return
    table = schema_editor.quote_name(apps.get_model("registry", "Repo")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'registry_repo'"
            " AND column_name = 'created_by_id'"
        )
        if cursor.fetchone():  # a run interrupted after this step's transaction: it is done
            return
    users = schema_editor.quote_name(apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table)
    keys = [
        f"ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) REFERENCES {users} (id)"
        " DEFERRABLE INITIALLY DEFERRED NOT VALID"
        for column, constraint in KEYS.items()
    ]
    columns = [
        "ADD COLUMN created_by_id bigint NULL",
        "ADD COLUMN disabled_at timestamp with time zone NULL",
        "ADD COLUMN disabled_by_id bigint NULL",
        "ADD COLUMN disabled_reason varchar(500) DEFAULT '' NOT NULL",
    ]
    schema_editor.execute(f"ALTER TABLE {table} " + ", ".join(columns + keys))
    schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN disabled_reason DROP DEFAULT")


def drop_columns(apps, schema_editor):
    # The state here is the one before the fields (SeparateDatabaseAndState): they are put back
    # in a copy to be removed, as Django would (SQLite copies the table without them).
    state = ProjectState.from_apps(apps)
    for name, field in COLUMNS.items():
        state.add_field("registry", "repo", name, field.clone(), preserve_default=True)
    for name in reversed(COLUMNS):
        repo = state.apps.get_model("registry", "Repo")
        schema_editor.remove_field(repo, repo._meta.get_field(name))
        state.remove_field("registry", "repo", name)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("registry", "0017_repo_history_epoch"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="repo", name=name, field=field) for name, field in COLUMNS.items()
            ],
            database_operations=[migrations.RunPython(add_columns, drop_columns, atomic=True)],
        ),
        PostgresOnlySQL(
            sql=[f"ALTER TABLE registry_repo VALIDATE CONSTRAINT {constraint}" for constraint in KEYS.values()],
            reverse_sql=migrations.RunSQL.noop,
        ),
        *(
            CreateIndexOnlineSQL(
                name=index, sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON registry_repo ({column})"
            )
            for column, index in INDEXES.items()
        ),
    ]
