"""githttp as deployed, under a real gunicorn: a clone, a chunked request body and a push of more
than 1 MiB (git sends one chunked past `http.postBuffer`), which gunicorn de-chunks
(`wsgi.input_terminated`: read as is, not de-chunked twice). Django's own server cannot read
chunked bodies at all (its input stream stops at `Content-Length`), so this is the only place
the path is exercised end to end."""

from __future__ import annotations

import http.client
import secrets
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from githttp.views import pkt_line
from registry.models import Ref
from tests.e2e.conftest import worker_database_url
from tests.support.builders import make_repo, token_for
from tests.support.gunicorn import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

CAPS = b" multi_ack_detailed side-band-64k thin-pack ofs-delta no-progress agent=git/2.39.5\n"
FILES = {"config.json": b'{"a": 1}\n', "notes.txt": b"hello\n"}


def _chunked_upload_pack(base: str, repo_path: str, body: bytes) -> bytes:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    pieces = [body[index : index + 7] for index in range(0, len(body), 7)]  # many small chunks
    connection.request(
        "POST",
        f"/{repo_path}/git-upload-pack",
        body=iter(pieces),
        headers={"Content-Type": "application/x-git-upload-pack-request"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 200
    return response.read()


def _request_for(repo) -> bytes:
    tip = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid.encode()
    return pkt_line(b"want " + tip + CAPS) + b"0000" + pkt_line(b"done\n")


def test_clone_and_chunked_request_through_gunicorn(git, alice, tmp_path):
    if "sqlite" in settings.DATABASES["default"]["ENGINE"] and "memory" in str(settings.DATABASES["default"]["NAME"]):
        pytest.skip("needs a database a second process can open (Postgres or an SQLite file)")
    repo = make_repo(alice, "m", FILES)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "CELERY_BROKER_URL": "filesystem://",
        "GATEHOUSE_LOOKUP_CACHE": "false",
    }
    with gunicorn("config.wsgi", log=tmp_path / "gunicorn.log", env=env) as url:
        assert b"PACK" in _chunked_upload_pack(url, "alice/m", _request_for(repo))
        target = tmp_path / "clone"
        scheme, rest = url.split("://", 1)
        git.run("clone", f"{scheme}://user:{token_for(alice)}@{rest}/alice/m", str(target))
        # A push past http.postBuffer (1 MiB) goes chunked: its pack is read once, whole.
        big = {f"data/part{index}.txt": secrets.token_hex(350_000).encode() for index in range(4)}
        for path, data in big.items():
            (target / path).parent.mkdir(exist_ok=True)
            (target / path).write_bytes(data)
        git.run("add", "-A", cwd=target)
        git.run("commit", "-q", "-m", "big text", cwd=target)
        git.run("push", "origin", "main", cwd=target)
        pushed = git.run("rev-parse", "HEAD", cwd=target).stdout.strip()
    for path, data in FILES.items():
        assert (target / path).read_bytes() == data
    assert Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid == pushed
    fresh = tmp_path / "fresh"
    git.run("clone", git.url("alice/m"), str(fresh))
    for path, data in big.items():
        assert (fresh / path).read_bytes() == data
