# Indexes for list_models on large tables (issue 15): its sorts by likes and by creation date, and
# its search (a substring of "namespace/name", case-insensitive) through a pg_trgm GIN index on
# exactly the expression the listing filters on (registry.api.repos.RepoListView._filter).
# Built CONCURRENTLY on PostgreSQL, so the table stays writable: this migration needs no downtime.
# pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.

from django.db import migrations, models

from core.migration_ops import AddIndexOnline, CreateIndexOnlineSQL, PostgresOnlySQL

SEARCH_EXPRESSION = (
    "UPPER((COALESCE(namespace, '') || COALESCE((COALESCE('/', '') || COALESCE(name, '')), ''))::text)"
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("registry", "0015_repo_folded_id"),
    ]

    operations = [
        AddIndexOnline(model_name="repo", index=models.Index(fields=["likes"], name="repo_likes")),
        AddIndexOnline(model_name="repo", index=models.Index(fields=["created_at"], name="repo_created_at")),
        PostgresOnlySQL(
            sql="CREATE EXTENSION IF NOT EXISTS pg_trgm",
            reverse_sql=migrations.RunSQL.noop,
        ),
        CreateIndexOnlineSQL(
            name="repo_full_id_trgm",
            sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS repo_full_id_trgm ON registry_repo USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)",
        ),
    ]
