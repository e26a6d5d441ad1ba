from django.db import migrations

# (table, the column holding the repo id)
TABLES = [
    ("registry_repo", "id"),
    ("registry_ref", "repo_id"),
    ("gating_releaseplan", "repo_id"),
    ("licenses_repolicensesettings", "repo_id"),
]


def _function(table: str, column: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {table}_notify_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gatehouse_repo_changed', OLD.{column}::text);
    ELSE
        PERFORM pg_notify('gatehouse_repo_changed', NEW.{column}::text);
        IF TG_OP = 'UPDATE' AND OLD.{column} IS DISTINCT FROM NEW.{column} THEN
            PERFORM pg_notify('gatehouse_repo_changed', OLD.{column}::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_notify_change();
CREATE TRIGGER {table}_notify_truncate
    AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_everything();
"""


# A truncated table has no rows to name: '*' means every repo may have changed.
EVERYTHING = """
CREATE OR REPLACE FUNCTION gatehouse_notify_everything() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_repo_changed', '*');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EVERYTHING)
        for table, column in TABLES:
            schema_editor.execute(_function(table, column))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, _ in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table};")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_notify_truncate ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_notify_change();")
        schema_editor.execute("DROP FUNCTION IF EXISTS gatehouse_notify_everything();")


class Migration(migrations.Migration):
    """On PostgreSQL every committed change to what the download lookup reads (a repo row, its
    refs, its release plan, its license settings) is announced on the `gatehouse_repo_changed`
    channel with the repo's id, however the change was made: see core.lookup_cache."""

    dependencies = [
        ("gating", "0002_audit_append_only_trigger"),
        ("registry", "0008_file_scan_requeue"),
        ("licenses", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
