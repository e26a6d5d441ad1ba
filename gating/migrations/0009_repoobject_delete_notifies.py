from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION registry_repoobject_notify_withdrawn() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_repo_changed', OLD.repo_id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER registry_repoobject_notify_withdrawn
    AFTER DELETE ON registry_repoobject
    FOR EACH ROW EXECUTE FUNCTION registry_repoobject_notify_withdrawn();
CREATE TRIGGER registry_repoobject_notify_withdrawn_truncate
    AFTER TRUNCATE ON registry_repoobject
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_everything();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS registry_repoobject_notify_withdrawn ON registry_repoobject;
DROP TRIGGER IF EXISTS registry_repoobject_notify_withdrawn_truncate ON registry_repoobject;
DROP FUNCTION IF EXISTS registry_repoobject_notify_withdrawn();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    """On PostgreSQL a withdrawn proof of possession (a `RepoObject` deleted: LFS files deleted for
    good, a quarantine) is announced as its repo's change on `gatehouse_repo_changed`, so every
    process drops the proofs it cached for that repo at once (registry.storage.content). New
    proofs announce nothing: they withdraw no answer."""

    dependencies = [("gating", "0008_repo_notify_every_column_but_counters")]
    operations = [migrations.RunPython(forwards, backwards)]
