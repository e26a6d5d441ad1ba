"""The upload-pack edge without a git binary: bounds, objects scoped per repo, clear errors."""

from __future__ import annotations

import gzip
import io

import pytest

from core.errors import BadRequest, PayloadTooLarge
from githttp import bodies
from githttp.views import pkt_line
from registry.models import Ref, RepoObject
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db

CAPS = b" multi_ack_detailed side-band-64k thin-pack ofs-delta no-progress agent=git/2.39.5\n"
TYPE = "application/x-git-upload-pack-request"


def _tip(repo) -> bytes:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid.encode()


def _post(client, path: str, body: bytes, **extra):
    return client.post(f"{path}/git-upload-pack", body, content_type=TYPE, **extra)


def _content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_have_of_another_repo_is_not_acknowledged(client, alice, bob):
    secret = make_repo(alice, "secret", {"config.json": b"{}"}, private=True)
    public = make_repo(bob, "public", {"config.json": b"[]"})
    body = pkt_line(b"want " + _tip(public) + CAPS) + b"0000" + pkt_line(b"have " + _tip(secret) + b"\n")
    body += pkt_line(b"done\n")
    answer = _content(_post(client, "/bob/public", body))
    assert b"NAK" in answer and _tip(secret) not in answer  # unknown here: the whole pack is sent
    assert b"PACK" in answer


def test_a_want_of_another_repo_is_refused_with_git_error(client, alice, bob):
    secret = make_repo(alice, "secret", {"config.json": b"{}"}, private=True)
    make_repo(bob, "public", {"config.json": b"[]"})
    body = pkt_line(b"want " + _tip(secret) + CAPS) + b"0000" + pkt_line(b"done\n")
    answer = _content(_post(client, "/bob/public.git", body))
    assert answer.startswith(b"00") and b"ERR " in answer and b"PACK" not in answer


def test_wrong_content_type_and_malformed_pkt_lines_are_clear_400s(client, alice):
    make_repo(alice, "m", {"config.json": b"{}"})
    wrong = client.post("/alice/m/git-upload-pack", b"0000", content_type="text/plain")
    assert wrong.status_code == 400 and b"application/x-git-upload-pack-request" in wrong.content
    malformed = _post(client, "/alice/m", b"zzzz")
    assert malformed.status_code == 400 and malformed["Content-Type"].startswith("text/plain")


def test_gzipped_requests_are_inflated_within_the_limit(client, alice, settings):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    body = pkt_line(b"want " + _tip(repo) + CAPS) + b"0000" + pkt_line(b"done\n")
    answer = _content(_post(client, "/alice/m", gzip.compress(body), HTTP_CONTENT_ENCODING="gzip"))
    assert b"PACK" in answer
    settings.GATEHOUSE_GIT_MAX_REQUEST_BYTES = 64 * 1024
    bomb = gzip.compress(b"0" * (1024 * 1024))
    refused = _post(client, "/alice/m", bomb, HTTP_CONTENT_ENCODING="gzip")
    assert refused.status_code == 413


class _Request:
    def __init__(self, raw: bytes, **meta):
        self.META = {"wsgi.input": io.BytesIO(raw), "HTTP_TRANSFER_ENCODING": "chunked", **meta}


def test_chunked_bodies_are_dechunked_once_and_bounded():
    raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    assert bodies.read_body(_Request(raw), 100) == b"hello world"
    # gunicorn de-chunked it already (wsgi.input_terminated): read as is, not de-chunked twice.
    assert bodies.read_body(_Request(b"hello world", **{"wsgi.input_terminated": True}), 100) == b"hello world"
    with pytest.raises(PayloadTooLarge):
        bodies.read_body(_Request(raw), 8)
    with pytest.raises(BadRequest):
        bodies.read_body(_Request(b"zz\r\nhello\r\n"), 100)
    with pytest.raises(BadRequest):
        bodies.read_body(_Request(b"ff\r\nshort"), 1000)


def test_negotiation_bounds():
    wants = b"".join(pkt_line(b"want " + b"a" * 40 + b"\n") for _ in range(bodies.MAX_WANTS + 1))
    with pytest.raises(BadRequest):
        bodies.check_negotiation(wants)
    haves = b"".join(pkt_line(b"have " + b"a" * 40 + b"\n") for _ in range(bodies.MAX_HAVES + 1))
    with pytest.raises(BadRequest):
        bodies.check_negotiation(haves)
    with pytest.raises(BadRequest):
        bodies.check_negotiation(b"0003")  # shorter than its own header
    bodies.check_negotiation(pkt_line(b"want " + b"a" * 40 + b"\n") + b"0000" + pkt_line(b"done\n"))


def test_content_never_proven_to_be_the_repos_refuses_the_clone(client, alice):
    repo = make_repo(alice, "m", {"config.json": b'{"x": 1}'})
    RepoObject.objects.filter(repo=repo).delete()  # as left by a version before the proof rule
    body = pkt_line(b"want " + _tip(repo) + CAPS) + b"0000" + pkt_line(b"done\n")
    answer = _content(_post(client, "/alice/m", body))
    assert b"ERR " in answer and b"quarantined" in answer and b'{"x": 1}' not in answer
