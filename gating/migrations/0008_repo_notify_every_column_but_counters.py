from django.db import migrations

# Columns whose change announces nothing: counters written by counted downloads, likes and
# commits (whose ref change notifies anyway). Every other column does, including those added
# later: 0004 listed the watched columns instead, and `deleted_at` (registry 0013) was left out,
# so a soft-deleted repo stayed in the lookup cache.
COUNTERS = "ARRAY['downloads', 'likes', 'last_modified', 'used_storage']"
FORWARD = f"""
DROP TRIGGER IF EXISTS registry_repo_notify_update ON registry_repo;
CREATE TRIGGER registry_repo_notify_update
    AFTER UPDATE ON registry_repo
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - {COUNTERS}) IS DISTINCT FROM (to_jsonb(NEW) - {COUNTERS}))
    EXECUTE FUNCTION registry_repo_notify_change();
"""
WATCHED_0004 = (
    "repo_type, namespace, name, owner_user_id, owner_org_id, private, gated, disabled, default_branch, "
    "card_data, license, pipeline_tag, library_name, base_models"
)
BACKWARD = f"""
DROP TRIGGER IF EXISTS registry_repo_notify_update ON registry_repo;
CREATE TRIGGER registry_repo_notify_update
    AFTER UPDATE OF {WATCHED_0004} ON registry_repo
    FOR EACH ROW EXECUTE FUNCTION registry_repo_notify_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    """A repo row's update announces a change unless only its counters moved (see core.lookup_cache)."""

    dependencies = [("gating", "0007_caller_change_notifications"), ("registry", "0017_repo_history_epoch")]
    operations = [migrations.RunPython(forwards, backwards)]
