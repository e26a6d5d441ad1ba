"""accounts 0007/0008 on PostgreSQL: `session_epoch`'s CHECK is added NOT VALID with the column
(no scan of the users under the ADD COLUMNs' lock) and validated by 0008 in its own transaction."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="NOT VALID constraints are PostgreSQL's"),
]


def _check_validated() -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT convalidated FROM pg_constraint"
            " WHERE conrelid = 'accounts_user'::regclass AND conname = 'accounts_user_session_epoch_check'"
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def test_the_session_epoch_check_is_added_not_valid_then_validated_and_always_enforced():
    User.objects.create(username="before-0007", email="b@example.org")
    assert _check_validated() is True
    try:
        MigrationExecutor(connection).migrate([("accounts", "0006_token_fine_grained")])
        assert _check_validated() is None
        MigrationExecutor(connection).migrate([("accounts", "0007_account_lifecycle")])
        assert _check_validated() is False  # 0007 read no user
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_user SET session_epoch = -1")  # but it holds for writes
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert _check_validated() is True
