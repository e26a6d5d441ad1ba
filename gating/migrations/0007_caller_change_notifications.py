from django.db import migrations

# (table, the column holding the user id, the columns whose update announces a change: None for any)
TABLES = [
    ("accounts_user", "id", None),
    # last_used_at is written by authentication itself (every few minutes): not a change of rights.
    ("accounts_accesstoken", "user_id", "user_id, name, role, public_id, digest, expires_at, revoked_at"),
    ("accounts_membership", "user_id", None),
    ("gating_accessrequest", "user_id", None),
]


def _forward(table: str, column: str, watched: str | None) -> str:
    on_update = "UPDATE" if watched is None else f"UPDATE OF {watched}"
    return f"""
CREATE OR REPLACE FUNCTION {table}_notify_caller() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gatehouse_repo_changed', 'u:' || OLD.{column}::text);
    ELSE
        PERFORM pg_notify('gatehouse_repo_changed', 'u:' || NEW.{column}::text);
        IF TG_OP = 'UPDATE' AND OLD.{column} IS DISTINCT FROM NEW.{column} THEN
            PERFORM pg_notify('gatehouse_repo_changed', 'u:' || OLD.{column}::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_notify_caller
    AFTER INSERT OR DELETE OR {on_update} ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_notify_caller();
CREATE TRIGGER {table}_notify_caller_truncate
    AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_everything();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, column, watched in TABLES:
            schema_editor.execute(_forward(table, column, watched))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, _, _ in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_notify_caller ON {table};")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_notify_caller_truncate ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_notify_caller();")


class Migration(migrations.Migration):
    """On PostgreSQL every committed change to what a caller's cached lookups read (their account,
    their tokens, their org memberships, their access requests) is announced on the
    `gatehouse_repo_changed` channel as `u:<user id>`, however it was made: see core.lookup_cache."""

    dependencies = [
        ("gating", "0006_access_request_requested_by_user"),
        ("accounts", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
