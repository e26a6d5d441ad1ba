"""500s on malformed input (issue 14): deeply nested JSON, a `Range` with 5000 digits, a
non-string commit `summary`, huge cursors and page numbers. Each is a 400 (or the status the
protocol defines), never a 500."""

import base64
import json

import pytest
from django.test import Client

from core.pagination import encode_cursor
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "9" * 5000


@pytest.fixture
def repo(alice):
    return make_repo(alice, "pub", {"config.json": b"{}", "w.bin": b"x" * 100})


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def auth(alice):
    return {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/models/alice/pub/preupload/main",
        "/api/models/alice/pub/paths-info/main",
        "/api/repos/create",
        "/api/validate-yaml",
        "/api/models/alice/pub/discussions",
        "/alice/pub.git/info/lfs/objects/batch",
    ],
)
def test_deeply_nested_json_is_a_400(client, repo, auth, url):
    response = client.post(url, DEEP, content_type="application/json", **auth)
    assert response.status_code == 400, response.content[:300]


def test_deeply_nested_json_in_a_commit_line_is_a_400(client, repo, auth):
    body = json.dumps({"key": "header", "value": {"summary": "x"}}) + "\n" + DEEP + "\n"
    response = client.post("/api/models/alice/pub/commit/main", body, content_type="application/x-ndjson", **auth)
    assert response.status_code == 400, response.content[:300]


@pytest.mark.parametrize("field", ["summary", "description"])
@pytest.mark.parametrize("value", [{"a": 1}, ["x"], 5, True])
def test_non_string_commit_summary_is_a_400(client, repo, auth, field, value):
    header = {"summary": "ok", field: value}
    lines = [{"key": "header", "value": header}, {"key": "deletedFile", "value": {"path": "config.json"}}]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    response = client.post("/api/models/alice/pub/commit/main", body, content_type="application/x-ndjson", **auth)
    assert response.status_code == 400, response.content[:300]
    assert f"'{field}'" in response["X-Error-Message"]


@pytest.mark.parametrize(
    ("header", "status", "content_range"),
    [
        (f"bytes={HUGE}-", 416, "bytes */100"),
        (f"bytes={HUGE}-{HUGE}", 416, "bytes */100"),
        (f"bytes=0-{HUGE}", 206, "bytes 0-99/100"),
        (f"bytes=1-{HUGE}", 206, "bytes 1-99/100"),
        (f"bytes=-{HUGE}", 206, "bytes 0-99/100"),
        ("bytes=" + "0" * 5000 + "5-" + "0" * 5000 + "9", 206, "bytes 5-9/100"),
    ],
)
def test_range_with_5000_digits_is_read_as_rfc_9110_says(client, repo, header, status, content_range):
    response = client.get("/alice/pub/resolve/main/w.bin", HTTP_RANGE=header)
    assert response.status_code == status
    assert response["Content-Range"] == content_range


@pytest.mark.parametrize(
    "url",
    [
        "/api/models?cursor={cursor}",
        "/api/models/alice/pub/commits/main?cursor={cursor}",
        "/api/models/alice/pub/tree/main?cursor={cursor}",
        "/api/models?limit={huge}",
        "/api/models/alice/pub/discussions?p={huge}",
        "/api/models/alice/pub/discussions?p=99999999999999999",
        "/alice/pub/commits/main?page={huge}",
        "/alice/pub/commits/main?page=99999999999999999",
        "/alice/pub/discussions?page={huge}",
        "/models?page={huge}",
    ],
)
def test_huge_cursors_and_page_numbers_are_not_500s(client, repo, alice, url):
    cursor = base64.urlsafe_b64encode(json.dumps({"o": 10**30}).encode()).decode()
    client.force_login(alice)
    response = client.get(url.format(cursor=cursor, huge=HUGE))
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])


def test_cursor_with_a_huge_digit_string(client, repo):
    cursor = base64.urlsafe_b64encode(b'{"o": ' + HUGE.encode() + b"}").decode()
    assert client.get(f"/api/models?cursor={cursor}").status_code == 400
    assert client.get(f"/api/models?cursor={encode_cursor(0)}").status_code == 200


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_json_does_not_have_are_refused(constant):
    from core import jsontext
    from core.errors import BadRequest

    with pytest.raises(BadRequest, match="Expected a number"):
        jsontext.loads(f'{{"size": {constant}}}', error="Expected a number.")
