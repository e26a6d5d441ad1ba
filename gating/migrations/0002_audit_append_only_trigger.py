from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION gating_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'gating_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER gating_auditevent_append_only
    BEFORE UPDATE OR DELETE ON gating_auditevent
    FOR EACH ROW EXECUTE FUNCTION gating_auditevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS gating_auditevent_append_only ON gating_auditevent;
DROP FUNCTION IF EXISTS gating_auditevent_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    """On PostgreSQL the audit trail refuses UPDATE and DELETE at the database itself."""

    dependencies = [("gating", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
