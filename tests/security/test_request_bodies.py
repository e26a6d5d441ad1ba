"""Bodies spooled before any check (issue 14): an anonymous 300 MB multipart POST to paths-info
was written to a temp file, and any portal POST with a made-up `csrftoken` cookie spooled its whole
body before the CSRF 403.

Each test sends its body through a stream that counts what the server reads (it makes the bytes up
as they are read, so a 300 MB body costs nothing unless it is read), with FILE_UPLOAD_TEMP_DIR
pointed at an empty folder that the stream checks on every read.
"""

import io
import os
import socket
import uuid
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from core import bodies
from core.errors import RequestTimeout
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db

BIG = 300 * 1024 * 1024
PEEK = bodies.CSRF_PEEK_BYTES


class MadeUpBody(io.RawIOBase):
    """`head`, then filler bytes up to `total`; records how much was read and every file that
    appeared in `watch` while it was being read."""

    def __init__(self, head: bytes, total: int, watch):
        super().__init__()
        self.head, self.total, self.watch = head, total, watch
        self.sent = 0
        self.seen: set[str] = set()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.seen.update(os.listdir(self.watch))
        count = min(len(buffer), self.total - self.sent)
        if count <= 0:
            return 0
        chunk = self.head[self.sent : self.sent + count]
        buffer[:count] = chunk + b"x" * (count - len(chunk))
        self.sent += count
        return count


@pytest.fixture
def spool(tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def _multipart(fields: dict[str, str], *, filename: str | None = "weights.bin") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if filename:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _post(client: Client, url: str, body: MadeUpBody, content_type: str, **extra):
    meta = {"wsgi.input": body, "CONTENT_LENGTH": str(body.total), "CONTENT_TYPE": content_type}
    return client.generic("POST", url, **meta, **extra)


@pytest.fixture
def public(alice):
    return make_repo(alice, "pub", {"config.json": b"{}"})


def test_anonymous_300_mb_multipart_to_paths_info_is_refused_unread(public, spool):
    head, content_type = _multipart({"paths": "config.json"})
    body = MadeUpBody(head, BIG, spool)
    response = _post(Client(), "/api/models/alice/pub/paths-info/main", body, content_type)
    assert response.status_code == 413
    assert response["X-Error-Code"] == "PayloadTooLarge"
    assert body.sent == 0 and not body.seen and not os.listdir(spool)


def test_paths_info_has_no_multipart_parser(public, spool):
    head, content_type = _multipart({"paths": "config.json"})
    body = MadeUpBody(head, len(head) + 4096, spool)
    response = _post(Client(), "/api/models/alice/pub/paths-info/main", body, content_type)
    assert response.status_code == 415
    assert not body.seen and not os.listdir(spool)
    # The Hub client's urlencoded form still works.
    answer = Client().post(
        "/api/models/alice/pub/paths-info/main", "paths=config.json", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200 and answer.json()[0]["path"] == "config.json"


@pytest.mark.parametrize("signed_in", [False, True])
def test_made_up_csrf_cookie_on_the_upload_form_reads_at_most_64_kib(public, alice, spool, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(alice)
    client.cookies["csrftoken"] = "a" * 32
    head, content_type = _multipart({"summary": "x"})
    body = MadeUpBody(head, BIG, spool)
    response = _post(client, "/alice/pub/upload/main", body, content_type)
    assert response.status_code == 403
    assert body.sent <= PEEK and not body.seen and not os.listdir(spool)


def test_failed_authentication_reads_no_body(public, bob, spool):
    # A valid CSRF pair of the attacker's own, but no right to upload: refused before the body.
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    head, content_type = _multipart({"csrfmiddlewaretoken": "a" * 32})
    for caller, status in ((None, 404), (bob, 403)):  # the policy's answers to a non-writer
        if caller:
            client.force_login(caller)
        body = MadeUpBody(head, BIG, spool)
        response = _post(client, "/alice/pub/upload/main", body, content_type)
        assert response.status_code == status and body.sent <= PEEK and not body.seen
    # The commit API with a bad token: 401 before a byte of the body.
    body = MadeUpBody(b'{"key": "header", "value": {}}\n', 100 * 1024 * 1024, spool)
    response = _post(
        Client(), "/api/models/alice/pub/commit/main", body, "application/x-ndjson", HTTP_AUTHORIZATION="Bearer gth_x"
    )
    assert response.status_code == 401 and body.sent == 0


def test_a_token_past_the_first_64_kib_is_not_looked_for(public, alice, spool):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.cookies["csrftoken"] = "a" * 32
    head, content_type = _multipart({"summary": "y" * PEEK, "csrfmiddlewaretoken": "a" * 32}, filename=None)
    body = MadeUpBody(head, len(head), spool)
    response = _post(client, "/alice/pub/edit/main/README.md", body, content_type)
    assert response.status_code == 403 and body.sent <= PEEK


def test_routes_without_files_refuse_large_bodies_and_file_parts(public, alice, spool):
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    head, content_type = _multipart({"csrfmiddlewaretoken": "a" * 32, "action": "watch"})
    big = MadeUpBody(head, BIG, spool)
    assert _post(client, "/alice/pub/discussions", big, content_type).status_code == 413
    assert big.sent == 0
    client.force_login(alice)
    small = MadeUpBody(head, len(head) + 3 * 1024 * 1024 // 4, spool)  # under the limit, but a file
    response = _post(client, "/alice/pub/discussions", small, content_type)
    assert response.status_code == 400
    assert not small.seen and not os.listdir(spool)
    assert small.sent < len(head) + 128 * 1024  # parsing stopped at the file part


def test_session_api_call_failing_csrf_reads_at_most_64_kib(public, alice, spool):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.cookies["csrftoken"] = "a" * 32
    head = b"paths=config.json&expand=" + b"x" * 5_000_000
    body = MadeUpBody(head, len(head), spool)
    response = _post(client, "/api/models/alice/pub/paths-info/main", body, "application/x-www-form-urlencoded")
    assert response.status_code == 403 and "CSRF" in response["X-Error-Message"]
    assert body.sent <= PEEK


def test_forms_with_a_valid_token_still_work(public, alice, spool):
    """The token is taken from the head of the body, which is then replayed whole to the view."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/alice/pub/upload/main")
    token = client.cookies["csrftoken"].value
    content = os.urandom(3 * 1024 * 1024)  # past FILE_UPLOAD_MAX_MEMORY_SIZE: a temp file, legitimately
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="summary"\r\n\r\nweights\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="w.bin"\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post("/alice/pub/upload/main", body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 302, response.content[:500]
    assert b"".join(client.get("/alice/pub/resolve/main/w.bin").streaming_content) == content
    form = urlencode({"csrfmiddlewaretoken": token, "content": "# card\n" + "x" * PEEK})  # as a browser sends it
    edit = client.post("/alice/pub/edit/main/README.md", form, content_type="application/x-www-form-urlencoded")
    assert edit.status_code == 302
    assert b"".join(client.get("/alice/pub/resolve/main/README.md").streaming_content) == b"# card\n" + b"x" * PEEK


def test_the_live_server_answers_413_before_the_body_is_sent(live_server, public):
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /api/models/alice/pub/paths-info/main HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {BIG}\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + (f"{entry.namespace}:" if entry.namespace else ""))
        elif isinstance(entry, URLPattern):
            yield prefix + (entry.name or str(entry.pattern)), entry.callback


# Routes that take more than GATEHOUSE_MAX_BODY_BYTES, and why.
LARGE_BODY_ROUTES = {
    "api:api-paths-info": "lists up to 10,000 paths",
    "api:api-preupload": "lists up to 1,000 files with samples",
    "api:api-commit": "inline files, read line by line",
    "api:api-validate-yaml": "a whole README",
    "registry:edit-card": "a whole README",
    "registry:upload": "portal upload form (files)",
    "community:new": "portal pull request form (files)",
    "lfs:lfs-batch": "many objects per batch",
    "githttp:upload-pack": "git wants and haves (GATEHOUSE_GIT_MAX_REQUEST_BYTES, 8 MiB, bounded in count too)",
    "githttp:receive-pack": "a git push's pack, spooled to disk (GATEHOUSE_GIT_MAX_PUSH_BYTES, read within bounds)",
    "lfs:lfs-upload": "an LFS object, streamed",
    "lfs:lfs-part": "a part of an LFS object, streamed",
    "xet-cas:xorb": "a xorb, streamed",
    "xet-cas:shard": "a shard",
    "xet-cas:shard-v2": "a shard (the v2 route hf_xet tries first)",
}


def test_only_the_listed_routes_take_large_bodies_or_files(settings):
    large = {}
    for name, callback in _walk(get_resolver().url_patterns):
        policy = bodies.policy_for(callback)
        if policy.limit() > settings.GATEHOUSE_MAX_BODY_BYTES or policy.files:
            large[name] = policy
    assert set(large) == set(LARGE_BODY_ROUTES)
    assert {name for name, policy in large.items() if policy.files} == {"registry:upload", "community:new"}


def test_a_browser_login_with_its_csrf_token_works(alice):
    """Browsers send forms urlencoded: the peeked head is replayed to the view (request.body)."""
    from tests.support.builders import PASSWORD

    browser = Client(enforce_csrf_checks=True)
    browser.get("/login")
    token = browser.cookies["csrftoken"].value
    form = urlencode({"csrfmiddlewaretoken": token, "username": "alice", "password": PASSWORD})
    response = browser.post("/login", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302 and browser.session["_auth_user_id"] == str(alice.pk)


class StalledBody(MadeUpBody):
    """Sends `head`, then stops: the read fails as core.gunicorn_worker's bounded read fails."""

    def readinto(self, buffer) -> int:
        if self.sent >= len(self.head):
            raise RequestTimeout("No data arrived for 1 seconds in the middle of the body.")
        count = min(len(buffer), len(self.head) - self.sent)
        buffer[:count] = self.head[self.sent : self.sent + count]
        self.sent += count
        return count


@pytest.mark.parametrize("enforce_csrf", [True, False])
def test_a_portal_body_that_stops_arriving_is_a_408_not_a_500(public, alice, spool, enforce_csrf):
    """While the CSRF check peeks at the form, or while the view parses it."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(alice)
    client.cookies["csrftoken"] = "a" * 32
    head, content_type = _multipart({"summary": "x"})
    response = _post(client, "/alice/pub/upload/main", StalledBody(head, 10 * PEEK, spool), content_type)
    assert response.status_code == 408 and response["X-Error-Code"] == "RequestTimeout"


def test_a_commit_body_past_its_own_limit_is_refused_unread(public, alice, spool, settings):
    settings.GATEHOUSE_MAX_COMMIT_BODY = 4 * 1024 * 1024
    body = MadeUpBody(b'{"key": "header", "value": {"summary": "x"}}\n', 5 * 1024 * 1024, spool)
    response = _post(
        Client(),
        "/api/models/alice/pub/commit/main",
        body,
        "application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert response.status_code == 413 and body.sent == 0


class ResetBody(MadeUpBody):
    """Sends `head`, then the client resets the connection."""

    def readinto(self, buffer) -> int:
        if self.sent >= len(self.head):
            raise ConnectionResetError(104, "Connection reset by peer")
        count = min(len(buffer), len(self.head) - self.sent)
        buffer[:count] = self.head[self.sent : self.sent + count]
        self.sent += count
        return count


def test_a_body_cut_by_the_client_is_a_400_not_a_500(public, alice, spool):
    response = _post(Client(), "/api/validate-yaml", ResetBody(b'{"content": "', 200_000, spool), "application/json")
    assert response.status_code == 400
    client = Client()
    client.force_login(alice)
    head, content_type = _multipart({"summary": "x"})
    response = _post(client, "/alice/pub/upload/main", ResetBody(head, 10 * PEEK, spool), content_type)
    assert response.status_code == 400
