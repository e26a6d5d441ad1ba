"""Every query of the pages that grow with the data (issue 15's data at scale) can use an index.

The queries are captured from the real views (CaptureQueriesContext over each request), then run
under EXPLAIN with `enable_seqscan = off`: PostgreSQL then picks a sequential scan only when no
index can serve the query at all, which on a table of 100,000 repos or 1,000,000 access requests
is the page that takes seconds. The timings themselves are bench/scale_pages.py's business.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.services import discussions
from gating import services as gating_services
from registry import services
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="query plans are PostgreSQL's; the data-at-scale set is for PostgreSQL",
    ),
]

# Tables small by nature (a handful of rows per site or per repo, read whole on purpose): a
# sequential scan of these is what an index would do anyway.
SMALL_TABLES = {"django_content_type", "licenses_license", "licenses_licenseversion"}


@pytest.fixture
def world(alice):
    files = {f"data/{i:03d}.txt": f"file {i}\n".encode() for i in range(30)}
    make_repo(alice, "files", files)
    gated = make_repo(alice, "gated", {"README.md": b"---\nlicense: mit\ntags: [transformers]\n---\n# Gated\n"})
    gated = services.repo_settings_update(repo=gated, gated="manual", actor=alice)
    for i in range(3):
        gating_services.access_request_create(
            repo=gated, user=UserFactory(username=f"asker{i}"), answers={}, has_role=False
        )
    thread = discussions.discussion_create(repo=gated, author=alice, title="A thread", description="first")
    discussions.comment_create(discussion=thread, author=alice, raw="second")
    return {"token": token_for(alice)}


def _pages(token: str) -> list[tuple[str, dict]]:
    signed_in = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return [
        ("/api/models?search=ate&sort=likes&direction=-1&limit=50", {}),
        ("/api/models?search=alice/g&sort=downloads&direction=-1&limit=50", signed_in),
        ("/api/models?filter=transformers&sort=downloads&direction=-1&limit=50", {}),
        ("/api/models?sort=likes&direction=-1&limit=50", signed_in),
        ("/api/models?sort=createdAt&direction=-1&limit=50", {}),
        ("/api/models?sort=lastModified&direction=-1&limit=50", {}),
        ("/api/models?sort=id&direction=-1&limit=50", {}),
        ("/api/models/alice/files/tree/main/data", {}),
        ("/api/models/alice/files/tree/main?recursive=True", {}),
        ("/api/models/alice/gated/user-access-request/pending", signed_in),
        ("/api/models/alice/gated/user-access-request/accepted", signed_in),
        ("/api/models/alice/gated/discussions/1", {}),
    ]


PORTAL_PAGES = [
    "/alice/files/tree/main/data",
    "/alice/files",
    "/alice/gated/access-requests",
    "/alice/gated/access-requests?q=asker1",
    "/alice/gated/discussions/1",
    "/alice/gated/discussions",
]


def _seq_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") not in SMALL_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found.extend(_seq_scans(child))
    return found


def _explain_all(captured) -> list[str]:
    problems = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for query in captured:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                for table in _seq_scans(plan[0]["Plan"]):
                    problems.append(f"Seq Scan on {table}: {sql[:300]}")
        finally:
            cursor.execute("RESET enable_seqscan")
    return problems


def _check(client, path: str, headers: dict) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    assert len(captured) > 0
    return [f"{path}: {problem}" for problem in _explain_all(captured)]


def test_api_pages_use_indexes(client, world):
    problems = []
    for path, headers in _pages(world["token"]):
        problems.extend(_check(client, path, headers))
    assert problems == []


def test_portal_pages_use_indexes(client, alice, world):
    client.force_login(alice)
    problems = []
    for path in PORTAL_PAGES:
        problems.extend(_check(client, path, {}))
    assert problems == []


SORTS = ["likes", "downloads", "createdAt", "lastModified", "id"]


def _sorted_whole(plan: dict) -> list[str]:
    """Sort nodes that read a large table whole to order it (a page of a listing then costs the
    table: `enable_seqscan = off` alone lets a full scan of any index through, then the sort)."""
    found = []
    if plan.get("Node Type") == "Sort":
        found.append(json.dumps(plan.get("Sort Key")))
    for child in plan.get("Plans", []):
        found.extend(_sorted_whole(child))
    return found


def _listing_plan(client, sort: str) -> dict:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/api/models?sort={sort}&direction=-1&limit=50").status_code == 200
    listing = [query["sql"] for query in captured if 'FROM "registry_repo"' in query["sql"] and "LIMIT" in query["sql"]]
    assert len(listing) == 1
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
        try:
            cursor.execute("EXPLAIN (FORMAT JSON) " + listing[0])
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]


def test_each_listing_sort_reads_along_an_index(client, alice):
    """A page of list_models without a search is the first rows of one index, not the table sorted.
    With sorts off as well, the planner sorts only when no index gives the order (on the test
    database's few rows it would otherwise sort them, which costs nothing there)."""
    make_repo(alice, "m", {"README.md": b"# m\n"})
    sorted_whole = {sort: _sorted_whole(_listing_plan(client, sort)) for sort in SORTS}
    assert sorted_whole == dict.fromkeys(SORTS, [])


def test_a_missing_index_is_caught(client, world):
    """The check itself can fail: sorting by a column without an index is a sequential scan."""
    with CaptureQueriesContext(connection) as captured:
        list(connection.cursor().execute("SELECT id FROM registry_repo WHERE used_storage > 5"))
    assert any("Seq Scan on registry_repo" in problem for problem in _explain_all(captured))
