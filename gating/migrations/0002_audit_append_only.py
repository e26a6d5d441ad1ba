"""SECURITY: on PostgreSQL, refuse UPDATE and DELETE of audit rows in the database itself, so
that not even raw SQL from the application can rewrite history. (TRUNCATE, used by test
flushes and by an operator wiping a database, is not a row operation and stays possible.)
SQLite relies on the model and queryset guards alone."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION gating_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'gating_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER gating_auditevent_append_only
    BEFORE UPDATE OR DELETE ON gating_auditevent
    FOR EACH ROW EXECUTE FUNCTION gating_auditevent_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS gating_auditevent_append_only ON gating_auditevent;
DROP FUNCTION IF EXISTS gating_auditevent_refuse_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("gating", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
