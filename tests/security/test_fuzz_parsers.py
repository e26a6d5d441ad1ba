"""Fuzzing of the parsers (issue 14): whatever a client sends, the answer is never a 5xx.

For each parser: a Hypothesis test of the parser function itself where it is pure (only its
declared error type may escape), and of its HTTP route through Django's test client (status below
500; the client re-raises any exception a view lets escape). Inputs are structured but wrong,
from strategies modelled on the real formats (tests/support/fuzz.py), and raw bytes.

Budget: `make test` runs each property with the example count in EXAMPLES (the stated minimum;
3,680 examples in all); `make test-slow` runs the same properties with ten times as many.
Runs are derandomized (the seed is fixed by each test's source), so a run is reproducible and a
failure seen once is seen again; shrinking stays on, so a failure is reported at its smallest.
Fixed regressions are @example cases, run first in every run (the explicit phase).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from collections import Counter
from datetime import timedelta
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from django.db import transaction
from django.test import Client as DjangoClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from core.byteranges import parse_range
from core.errors import BadRequest, RangeNotSatisfiable
from core.pagination import decode_cursor
from registry import services
from registry.cards import modelcard
from registry.cards.metadata_validation import validate_card_text
from registry.git import paths
from tests.support import fuzz
from tests.support import xet as xet_build
from tests.support.builders import make_repo, token_for
from xet import format

pytestmark = pytest.mark.django_db

# Examples per property in `make test`; `make test-slow` runs SLOW_FACTOR times as many.
EXAMPLES = {
    "pure": 500,
    "route": 60,
    "commit": 80,
}
SLOW_FACTOR = 10
BUDGETS = [pytest.param(1, id="budget"), pytest.param(SLOW_FACTOR, id="budget-x10", marks=pytest.mark.slow)]


def fuzz_settings(kind: str, factor: int) -> settings:
    return settings(
        max_examples=EXAMPLES[kind] * factor,
        # Pure parsers: generous on a loaded machine, yet far below what a CPU bomb costs. Routes
        # wait on the shared PostgreSQL and Redis too, and a stall there (once 108 s on a loaded
        # machine) is no parser's cost: they have no deadline but the suite's timeout.
        deadline=timedelta(seconds=5) if kind == "pure" else None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


FILES = {
    "README.md": b"---\nlicense: mit\n---\n# fuzz\n",
    "config.json": b'{"hidden_size": 8}',
    "weights/model.safetensors": bytes(range(256)) * 4,
    "sub/dir/a.txt": b"a\n",
    "empty.txt": b"",
}


@pytest.fixture(autouse=True)
def _statuses(request):
    """Which answers each property drew (shown with `-s`): a strategy that only ever reaches the
    first check of a route would fuzz nothing behind it."""
    STATUSES.clear()
    yield
    if STATUSES:
        print(f"\n{request.node.name}: {dict(sorted(STATUSES.items()))}")


@pytest.fixture
def repo(alice):
    return make_repo(alice, "fuzz", FILES)


@pytest.fixture
def token(alice):
    return token_for(alice)


STATUSES: Counter = Counter()


class Client(DjangoClient):
    """Each request in a savepoint: a database error fails its own example, and does not leave the
    test's transaction aborted for every later one (which would send shrinking astray)."""

    def request(self, **request):
        with transaction.atomic():
            return super().request(**request)


def assert_no_5xx(response) -> None:
    STATUSES[response.status_code] += 1
    assert response.status_code < 500, (response.status_code, response.content[:300])


def _path(text: str) -> str:
    return quote(text, safe="/")


# -- commit ndjson --------------------------------------------------------------------------------

HEADER = {"key": "header", "value": {"summary": "fuzz"}}
INLINE = {"key": "file", "value": {"path": "new.txt", "content": "YQ==", "encoding": "base64"}}


def _ndjson(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.mark.parametrize("factor", BUDGETS)
def test_commit_ndjson_never_5xx(factor, repo, token):
    client = Client()

    @fuzz_settings("commit", factor)
    @given(body=st.one_of(fuzz.ndjson_bodies(), st.binary(max_size=200)))
    # Regressions, each a 500 before its fix: NUL and a lone surrogate in the header's text (both
    # refused by PostgreSQL), and a declared size past a float's range.
    @example(body=_ndjson({"key": "header", "value": {"summary": "a\x00b"}}, INLINE))
    @example(body=_ndjson({"key": "header", "value": {"summary": "s", "description": "\ud800"}}, INLINE))
    @example(body=_ndjson(HEADER, {"key": "lfsFile", "value": {"path": "x.bin", "oid": "0" * 64, "size": 10**400}}))
    def run(body):
        response = client.post(
            "/api/models/alice/fuzz/commit/main",
            data=body,
            content_type="application/x-ndjson",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert_no_5xx(response)

    run()


# -- paths-info -----------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_paths_info_form_never_5xx(factor, repo):
    client = Client()

    @fuzz_settings("route", factor)
    @given(form=fuzz.PATHS_INFO_FORMS, revision=st.sampled_from(["main", "refs/heads/main"]))
    def run(form, revision):
        body = urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in form])
        response = client.post(
            f"/api/models/alice/fuzz/paths-info/{revision}",
            data=body,
            content_type="application/x-www-form-urlencoded",
        )
        assert_no_5xx(response)

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_paths_info_json_and_raw_bodies_never_5xx(factor, repo):
    client = Client()

    @fuzz_settings("route", factor)
    @given(
        body=st.one_of(
            fuzz.PATHS_INFO_JSON.map(lambda v: json.dumps(v).encode()), fuzz.NESTED_JSON, st.binary(max_size=200)
        ),
        content_type=st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "multipart/form-data",
                "text/plain",
            ]
        ),
    )
    @example(body=b"null", content_type="application/json")  # was a 500: a body that is not an object
    @example(body=b'{"paths": [["a"], {"b": 1}]}', content_type="application/json")  # was a 500: unhashable paths
    def run(body, content_type):
        response = client.post("/api/models/alice/fuzz/paths-info/main", data=body, content_type=content_type)
        assert_no_5xx(response)

    run()


# -- Range ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_parse_range_raises_only_range_not_satisfiable(factor):
    @fuzz_settings("pure", factor)
    @given(header=fuzz.RANGES, size=st.integers(0, 2**40))
    @example(header="bytes=-1", size=0)  # was (0, -1), served as a 206 of "bytes 0--1/0"
    def run(header, size):
        try:
            parsed = parse_range(header, size)
        except RangeNotSatisfiable:
            return
        if parsed is not None:
            start, end = parsed
            assert 0 <= start <= end < size

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_range_on_resolve_never_5xx(factor, repo):
    client = Client()

    @fuzz_settings("route", factor)
    @given(header=fuzz.RANGES, path=st.sampled_from(["config.json", "weights/model.safetensors", "empty.txt"]))
    @example(header="bytes=-1", path="empty.txt")  # was a 206 of "bytes 0--1/0"
    def run(header, path):
        try:
            header.encode("latin-1")
        except UnicodeEncodeError:
            header = header.encode("utf-8", "surrogatepass").decode("latin-1")  # as WSGI hands it over
        response = client.get(f"/alice/fuzz/resolve/main/{path}", HTTP_RANGE=header)
        assert_no_5xx(response)
        if response.status_code == 206:
            start, end, size = map(int, re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", response["Content-Range"]).groups())
            assert start <= end < size
            assert len(b"".join(response.streaming_content)) == int(response["Content-Length"]) == end - start + 1

    run()


# -- revisions and paths --------------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_validate_path_raises_only_bad_request(factor):
    @fuzz_settings("pure", factor)
    @given(path=st.one_of(fuzz.PATHS, fuzz.ANY_JSON))
    @example(path="\ud800")  # was a UnicodeEncodeError in validate_ref_name (a 500 when creating a tag)
    def run(path):
        with contextlib.suppress(BadRequest):
            assert paths.validate_path(path) == path
        with contextlib.suppress(BadRequest):
            paths.validate_ref_name(path)

    run()


_REVISION_ROUTES = [
    "/api/models/alice/fuzz/revision/{rev}",
    "/api/models/alice/fuzz/tree/{rev}",
    "/api/models/alice/fuzz/tree/{rev}/sub",
    "/api/models/alice/fuzz/commits/{rev}",
    "/api/models/alice/fuzz/xet-read-token/{rev}",
    "/alice/fuzz/resolve/{rev}/config.json",
    "/alice/fuzz/resolve/main/{rev}",
    "/alice/fuzz/tree/{rev}",
    "/alice/fuzz/blob/{rev}/config.json",
    "/alice/fuzz/commits/{rev}",
]


@pytest.mark.parametrize("factor", BUDGETS)
def test_revisions_and_paths_in_urls_never_5xx(factor, repo):
    client = Client()

    @fuzz_settings("route", factor)
    @given(
        route=st.sampled_from(_REVISION_ROUTES),
        revision=st.one_of(
            fuzz.REVISIONS.map(lambda r: quote(r.encode("utf-8", "surrogatepass"), safe="/")),
            fuzz.PATHS.map(lambda p: quote(p.encode("utf-8", "surrogatepass"), safe="/")),
            st.binary(min_size=1, max_size=30).map(lambda b: quote_from_bytes(b, safe="/")),
        ),
    )
    def run(route, revision):
        assert_no_5xx(client.get(route.format(rev=revision)))

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_revisions_of_write_routes_never_5xx(factor, repo, token):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    @fuzz_settings("route", factor)
    @given(
        revision=fuzz.REVISIONS.map(lambda r: quote(r.encode("utf-8", "surrogatepass"), safe="/")),
        name=st.one_of(fuzz.REVISIONS, fuzz.ANY_JSON),
        message=st.one_of(fuzz.TEXT, fuzz.ANY_JSON),
    )
    @example(revision="main", name="\ud800", message="")  # a lone surrogate, as JSON decodes "\ud800"
    def run(revision, name, message):
        tag = json.dumps({"tag": name, "message": message})
        assert_no_5xx(
            client.post(f"/api/models/alice/fuzz/tag/{revision}", tag, content_type="application/json", **auth)
        )
        branch = json.dumps({"startingPoint": name})
        assert_no_5xx(
            client.post(f"/api/models/alice/fuzz/branch/{revision}", branch, content_type="application/json", **auth)
        )
        form = "paths=config.json"
        assert_no_5xx(
            client.post(
                f"/api/models/alice/fuzz/paths-info/{revision}", form, content_type="application/x-www-form-urlencoded"
            )
        )
        assert_no_5xx(
            client.post(
                f"/api/models/alice/fuzz/preupload/{revision}", {"files": []}, content_type="application/json", **auth
            )
        )
        assert_no_5xx(client.get(f"/api/models/alice/fuzz/xet-write-token/{revision}", **auth))
        assert_no_5xx(
            client.post(
                f"/api/models/alice/fuzz/commit/{revision}",
                b'{"key":"header","value":{"summary":"s"}}\n',
                content_type="application/x-ndjson",
                **auth,
            )
        )

    run()


# -- cursors and page numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_decode_cursor_raises_only_bad_request(factor):
    @fuzz_settings("pure", factor)
    @given(cursor=st.one_of(fuzz.CURSORS, st.none()))
    @example(cursor="eyJvIjogSW5maW5pdHl9")  # {"o": Infinity}: was an OverflowError
    def run(cursor):
        with contextlib.suppress(BadRequest):
            assert decode_cursor(cursor) >= 0

    run()


_PAGED_ROUTES = [
    "/api/models?cursor={c}&limit={p}",
    "/api/datasets?cursor={c}&limit={p}&sort=downloads",
    "/api/models/alice/fuzz/tree/main?cursor={c}&limit={p}&recursive=1",
    "/api/models/alice/fuzz/tree/main?cursor={c}&expand=1",
    "/api/models/alice/fuzz/commits/main?cursor={c}&limit={p}",
    "/api/models/alice/fuzz/discussions?p={p}",
    "/alice/fuzz/commits/main?page={p}",
    "/alice/fuzz/discussions?page={p}",
    "/models?page={p}",
]


@pytest.mark.parametrize("factor", BUDGETS)
def test_cursors_and_page_numbers_never_5xx(factor, repo):
    client = Client()

    @fuzz_settings("route", factor)
    @given(route=st.sampled_from(_PAGED_ROUTES), cursor=fuzz.CURSORS, page=fuzz.PAGE_NUMBERS)
    @example(route=_PAGED_ROUTES[0], cursor="eyJvIjogSW5maW5pdHl9", page="1")  # {"o": Infinity}: was a 500
    def run(route, cursor, page):
        url = route.format(c=_query(cursor), p=_query(page))
        assert_no_5xx(client.get(url))

    run()


def _query(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# -- card YAML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_card_parsing_raises_only_card_error(factor):
    @fuzz_settings("pure", factor)
    @given(text=fuzz.cards())
    # Regressions, each an exception other than CardError before its fix (and a 500 on the routes).
    @example(text="---\n2020-01-01: x\n---\n")  # a date key
    @example(text='---\nlicense: "a\\0b"\n---\n')  # NUL, which PostgreSQL refuses in jsonb
    @example(text='---\ntags: ["\\ud800"]\n---\n')  # a lone surrogate
    @example(text="---\na: .nan\n---\n")  # not JSON
    @example(text="---\na: &x [*x]\n---\n")  # a list that contains itself
    @example(text="---\nbase_model_relation: [x]\n---\n")  # validate_metadata: a TypeError (unhashable)
    def run(text):
        try:
            data = modelcard.parse_metadata(text)
        except modelcard.CardError:
            data = None
        if data is not None:
            assert isinstance(data, dict)
            json.dumps(data)  # it is stored and served as JSON
            modelcard.summarize(data)
        errors, warnings = validate_card_text(text)
        assert isinstance(errors, list) and isinstance(warnings, list)

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_validate_yaml_route_never_5xx(factor, db):
    client = Client()

    @fuzz_settings("route", factor)
    @given(
        body=st.one_of(
            st.builds(lambda c, t: {"content": c, "repoType": t}, fuzz.cards(), fuzz.ANY_JSON).map(json.dumps),
            fuzz.ANY_JSON.map(json.dumps),
            fuzz.NESTED_JSON,
            st.binary(max_size=100),
        )
    )
    @example(body=json.dumps({"content": "---\n2020-01-01: x\n---\n"}))  # was a 500: a date key
    def run(body):
        assert_no_5xx(client.post("/api/validate-yaml", data=body, content_type="application/json"))

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_committed_card_never_5xx(factor, repo, token):
    """A README's front matter is parsed when it is committed (the repo's card data and tags) and
    read back by the repo's routes; a malformed one is stored as a file, never a 500."""
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    @fuzz_settings("route", factor)
    @given(text=fuzz.cards())
    # Regressions, each an exception other than CardError before its fix (and a 500 on the routes).
    @example(text="---\n2020-01-01: x\n---\n")  # a date key
    @example(text='---\nlicense: "a\\0b"\n---\n')  # NUL, which PostgreSQL refuses in jsonb
    @example(text='---\ntags: ["\\ud800"]\n---\n')  # a lone surrogate
    @example(text="---\na: .nan\n---\n")  # not JSON
    @example(text="---\na: &x [*x]\n---\n")  # a list that contains itself
    def run(text):
        content = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()
        lines = [
            {"key": "header", "value": {"summary": "card"}},
            {"key": "file", "value": {"path": "README.md", "content": content, "encoding": "base64"}},
        ]
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        response = client.post(
            "/api/models/alice/fuzz/commit/main", data=body, content_type="application/x-ndjson", **auth
        )
        assert_no_5xx(response)
        assert_no_5xx(client.get("/api/models/alice/fuzz"))
        assert_no_5xx(client.get("/alice/fuzz"))

    run()


# -- LFS batch ------------------------------------------------------------------------------------

LFS = "application/vnd.git-lfs+json"


def _lfs_batch(objects: list, **fields) -> bytes:
    return json.dumps({"operation": "upload", "objects": objects, **fields}).encode()


@pytest.mark.parametrize("factor", BUDGETS)
def test_lfs_batch_never_5xx(factor, repo, token):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    @fuzz_settings("route", factor)
    @given(
        route_and_body=st.one_of(
            st.tuples(st.just("batch"), fuzz.LFS_BATCHES.map(lambda v: json.dumps(v).encode())),
            st.tuples(st.just("verify"), fuzz.LFS_VERIFY.map(lambda v: json.dumps(v).encode())),
            st.tuples(st.sampled_from(["batch", "verify"]), st.one_of(fuzz.NESTED_JSON, st.binary(max_size=200))),
        ),
        content_type=st.sampled_from(["application/vnd.git-lfs+json", "application/json"]),
    )
    # Regressions, each a 500 before its fix: a size past a float's range, transfers not a list.
    @example(route_and_body=("batch", _lfs_batch([{"oid": "0" * 64, "size": 10**400}])), content_type=LFS)
    @example(route_and_body=("batch", _lfs_batch([{"oid": "0" * 64, "size": 1}], transfers=5)), content_type=LFS)
    def run(route_and_body, content_type):
        route, body = route_and_body
        response = client.post(
            f"/alice/fuzz.git/info/lfs/objects/{route}", data=body, content_type=content_type, **auth
        )
        assert_no_5xx(response)

    run()


# -- Xet xorbs and shards -------------------------------------------------------------------------


@pytest.mark.parametrize("factor", BUDGETS)
def test_xorb_parser_raises_only_format_error(factor):
    @fuzz_settings("pure", factor)
    @given(body=st.one_of(fuzz.xorb_bodies(), st.binary(max_size=300)))
    def run(body):
        try:
            for chunk, record, raw in format.iter_xorb(io.BytesIO(body)):
                assert len(raw) == chunk.size and record == body[chunk.compressed_start : chunk.compressed_end]
        except format.FormatError:
            pass

    run()


@pytest.mark.parametrize("factor", BUDGETS)
def test_shard_parser_raises_only_format_error(factor):
    @fuzz_settings("pure", factor)
    @given(body=st.one_of(fuzz.shard_bodies(), st.binary(max_size=300)))
    def run(body):
        with contextlib.suppress(format.FormatError):
            format.parse_shard(body)

    run()


@pytest.fixture
def xet_token(repo, token):
    response = Client().get("/api/models/alice/fuzz/xet-write-token/main", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response.json()["accessToken"]


@pytest.mark.parametrize("factor", BUDGETS)
def test_xorb_and_shard_uploads_never_5xx(factor, xet_token):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {xet_token}"}
    known_hash, known_body = xet_build.xorb([b"known chunk"])

    @fuzz_settings("route", factor)
    @given(
        xorb=st.one_of(fuzz.xorb_bodies(), st.binary(max_size=200)),
        xorb_hash=st.one_of(st.just(known_hash), fuzz.HEX64, st.text(max_size=70).map(_query)),
        shard=st.one_of(fuzz.shard_bodies(), st.binary(max_size=200)),
    )
    def run(xorb, xorb_hash, shard):
        assert_no_5xx(client.generic("POST", f"/cas/v1/xorbs/default/{xorb_hash}", xorb, **auth))
        assert_no_5xx(client.generic("POST", "/cas/v1/shards", shard, **auth))

    assert client.generic("POST", f"/cas/v1/xorbs/default/{known_hash}", known_body, **auth).status_code == 200
    run()


# -- JSON text PostgreSQL cannot store ------------------------------------------------------------


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_access_request_answers_that_postgres_cannot_store_are_a_400(text, repo, bob):
    """The one JSON body outside the API parsers (the ask-access form also takes JSON)."""
    services.repo_settings_update(repo=repo, gated="manual")
    response = Client().post(
        "/alice/fuzz/ask-access",
        json.dumps({"Company": text}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}",
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
