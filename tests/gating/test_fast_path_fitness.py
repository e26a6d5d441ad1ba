"""Fitness tests for the download fast path (issue 19, step 1): what its caches and prepared
queries rest on is checked against the code, not against a hand-kept list.

- The anonymous lookup cache (core.lookup_cache) is dropped when a table it reads changes,
  through triggers on a list of tables in a gating migration: the tables the cached lookups
  read, as Django compiles them, must be exactly that list.
- A PreparedQuery falls back to the ORM without a word where it cannot prepare its query (after a
  Django upgrade, say): every one of the project's must prepare, here on the test database
  (PostgreSQL in CI).
"""

import gc
import importlib
import inspect
import re

import pytest
from django.db import connection

import config.urls  # noqa: F401 - imports every view module, so every PreparedQuery exists
from accounts import auth
from core.prepared import PreparedQuery
from gating import policy, visibility

pytestmark = pytest.mark.django_db

NOTIFYING = {
    table for table, _column in importlib.import_module("gating.migrations.0003_repo_change_notifications").TABLES
}
CALLER_NOTIFYING = {
    table
    for table, _column, _watched in importlib.import_module("gating.migrations.0007_caller_change_notifications").TABLES
}
_TABLE = re.compile(r'(?:FROM|JOIN)\s+"(\w+)"')


def _arguments(prepared: PreparedQuery, *, ids_as_text: bool = False) -> dict:
    """Values of the right types for a lookup's arguments, by their names: `names` are lists of
    ref names, `*_id` integers (or, for ids that are text such as a token's public id, strings)."""

    def sample(name: str):
        if name.endswith("names"):
            return ["main", "refs/heads/main"]
        if (name == "id" or name.endswith("_id")) and not ids_as_text:
            return 1
        return "x"

    return {name: sample(name) for name in inspect.signature(prepared._build).parameters}


def _tables_read(prepared: PreparedQuery) -> set[str]:
    sql, _params = prepared._build(**_arguments(prepared)).query.get_compiler(using="default").as_sql()
    return set(_TABLE.findall(sql))


@pytest.mark.parametrize("name", ["_FIND_PUBLIC_AT", "_FIND_PUBLIC"])
def test_every_table_the_cached_lookup_reads_notifies_its_changes(name):
    read = _tables_read(getattr(visibility, name))
    assert "registry_repo" in read
    assert read <= NOTIFYING, f"the cached lookup reads {sorted(read - NOTIFYING)}, whose changes notify nobody"


def test_the_notifying_tables_are_exactly_those_the_cached_lookups_read():
    """Equal, not only covering: a notifying table that no cached lookup reads drops the cache on
    writes that cannot change a decision (and says the trigger list has drifted from the code)."""
    read = _tables_read(visibility._FIND_PUBLIC_AT) | _tables_read(visibility._FIND_PUBLIC)
    assert read == NOTIFYING, f"read only: {sorted(read - NOTIFYING)}; notifying only: {sorted(NOTIFYING - read)}"


def test_every_table_a_signed_in_callers_cached_lookups_read_notifies_its_changes():
    """The token and its account (accounts.auth), a signed-in caller's download lookup and grant
    (gating), kept per process: each table they read announces its changes (by repo or by user),
    and every table announcing a user's changes is read by one of them. The role lookup of
    gating.access_types reads accounts_membership, which the caller's find reads too."""
    cached = [auth._TOKEN_BY_PUBLIC_ID, auth._USER_BY_ID, visibility._FIND_FOR_USER_AT, policy._ACCESS_REQUEST]
    read = set().union(*(_tables_read(prepared) for prepared in cached))
    silent = read - NOTIFYING - CALLER_NOTIFYING
    assert not silent, f"read, notifying nobody: {sorted(silent)}"
    assert read >= CALLER_NOTIFYING, f"notifying, read by no cached lookup: {sorted(CALLER_NOTIFYING - read)}"


def _project_prepared_queries() -> list[PreparedQuery]:
    return [item for item in gc.get_objects() if type(item) is PreparedQuery]  # type(): no lazy object wakes


def test_every_prepared_query_of_the_project_prepares():
    queries = _project_prepared_queries()
    assert len(queries) >= 8  # the policy's four lookups, the access request, the stage, refs, tokens, users
    for prepared in queries:
        compiled = prepared._compile("default", _arguments(prepared)) or prepared._compile(
            "default", _arguments(prepared, ids_as_text=True)
        )
        assert compiled is not None, f"{prepared._build} runs through the ORM on {connection.vendor}"
