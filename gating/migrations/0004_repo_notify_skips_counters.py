from django.db import migrations

# Columns of registry_repo the download lookup does not depend on: counters written by every
# counted download (and by commits, whose ref change notifies anyway) do not drop the cache.
WATCHED = (
    "repo_type, namespace, name, owner_user_id, owner_org_id, private, gated, disabled, default_branch, "
    "card_data, license, pipeline_tag, library_name, base_models"
)
FORWARD = f"""
DROP TRIGGER IF EXISTS registry_repo_notify_change ON registry_repo;
CREATE TRIGGER registry_repo_notify_change
    AFTER INSERT OR DELETE ON registry_repo
    FOR EACH ROW EXECUTE FUNCTION registry_repo_notify_change();
CREATE TRIGGER registry_repo_notify_update
    AFTER UPDATE OF {WATCHED} ON registry_repo
    FOR EACH ROW EXECUTE FUNCTION registry_repo_notify_change();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS registry_repo_notify_update ON registry_repo;
DROP TRIGGER IF EXISTS registry_repo_notify_change ON registry_repo;
CREATE TRIGGER registry_repo_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON registry_repo
    FOR EACH ROW EXECUTE FUNCTION registry_repo_notify_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    """Download counters (`downloads`, `likes`, `last_modified`, `used_storage`) no longer announce
    a change: the cache only holds download lookups, which do not show them."""

    dependencies = [("gating", "0003_repo_change_notifications")]
    operations = [migrations.RunPython(forwards, backwards)]
