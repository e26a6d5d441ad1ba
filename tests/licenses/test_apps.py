"""The catalogue's post_migrate sync on a partially migrated schema: `migrate` sends the signal
after a partial run too, and the sync must not write a table that is not there yet."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from licenses.models import License

pytestmark = pytest.mark.django_db(transaction=True)


def _license_table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('licenses_license') IS NOT NULL"
            if connection.vendor == "postgresql"
            else "SELECT count(*) FROM sqlite_master WHERE name = 'licenses_license'"
        )
        return bool(cursor.fetchone()[0])


def test_a_migrate_that_stops_before_the_catalogue_table_skips_the_sync_and_the_next_one_syncs():
    """`migrate` to a point before licenses 0001 (as `migrate accounts 0001` on an empty database)
    failed in the sync: relation "licenses_license" does not exist."""
    try:
        call_command("migrate", "licenses", "zero", verbosity=0)  # post_migrate is sent here
        assert not _license_table_exists()
    finally:
        call_command("migrate", verbosity=0)
    assert License.objects.filter(pk="apache-2.0").exists()  # the full migrate synced again
