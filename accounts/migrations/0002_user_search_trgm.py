# The access-request queue's search (gating.selectors.requests_for: a substring of the username or
# the email, case-insensitive) through pg_trgm GIN indexes on exactly the expressions Django's
# `icontains` compares, so a search in a queue of 200,000 requests starts from the few matching
# users (issue 15). Built CONCURRENTLY on PostgreSQL: no downtime; nothing on other databases.

from django.db import migrations

from core.migration_ops import CreateIndexOnlineSQL, PostgresOnlySQL


def _index(name: str, column: str) -> CreateIndexOnlineSQL:
    return CreateIndexOnlineSQL(
        name=name,
        sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON accounts_user USING gin ((UPPER({column}::text)) gin_trgm_ops)",
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        PostgresOnlySQL(sql="CREATE EXTENSION IF NOT EXISTS pg_trgm", reverse_sql=migrations.RunSQL.noop),
        _index("user_username_trgm", "username"),
        _index("user_email_trgm", "email"),
    ]
