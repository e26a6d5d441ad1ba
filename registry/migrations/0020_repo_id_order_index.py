# list_models' sort=id (namespace, then name) read along an index on large tables (issue 15), built
# CONCURRENTLY on PostgreSQL so the table stays writable: no downtime (core.migration_ops).

from django.db import migrations, models

from core.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("registry", "0019_repo_creators_backfill"),
    ]

    operations = [
        AddIndexOnline(model_name="repo", index=models.Index(fields=["namespace", "name"], name="repo_id_order")),
    ]
