import hashlib
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from registry.models import Ref, Repo
from registry.selectors import read_text_at, resolve_revision
from registry.storage import get_storage
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db


def _files(repo, revision="main"):
    from registry.git import trees

    return {path for path, _ in trees.iter_files(resolve_revision(repo, revision).tree_oid)}


def test_new_repo_upload_folder_edit_card_delete(client, alice):
    client.force_login(alice)
    response = client.post("/new", {"namespace": "alice", "name": "web", "repo_type": "model"})
    assert response.status_code == 302 and response["Location"] == "/alice/web"
    repo = Repo.objects.get(name="web")

    uploads = [SimpleUploadedFile("config.json", b"{}"), SimpleUploadedFile("w.safetensors", b"\0" * 2048)]
    response = client.post(
        "/alice/web/upload/main",
        {"files": uploads, "paths": ["unet/config.json", "unet/w.safetensors"], "summary": "Add unet"},
    )
    assert response.status_code == 302
    assert {"unet/config.json", "unet/w.safetensors"} <= _files(repo)

    card = "---\nlicense: mit\n---\n# Edited in the browser\n"
    assert client.post("/alice/web/edit/main/README.md", {"content": card, "summary": "Card"}).status_code == 302
    assert read_text_at(resolve_revision(repo, "main").tree_oid, "README.md", repo_pk=repo.pk) == card
    repo.refresh_from_db()
    assert repo.license == "mit"

    bad = client.post("/alice/web/edit/main/README.md", {"content": "---\ntags: {a: 1}\n---\n"})
    assert bad.status_code == 400 and b"tags" in bad.content

    assert client.post("/alice/web/delete/main/unet/config.json", {"summary": "rm"}).status_code == 302
    assert "unet/config.json" not in _files(repo)

    client.post("/alice/web/refs", {"action": "create-branch", "name": "dev"})
    client.post("/alice/web/refs", {"action": "create-tag", "name": "v1", "from": "dev", "message": "one"})
    assert set(Ref.objects.filter(repo=repo).values_list("name", flat=True)) == {
        "refs/heads/main",
        "refs/heads/dev",
        "refs/tags/v1",
    }


def test_write_pages_are_refused_to_non_writers(client, alice, bob):
    make_repo(alice, "m")
    make_repo(alice, "secret", private=True)
    client.force_login(bob)
    for url in ("/alice/m/upload/main", "/alice/m/edit/main/README.md"):
        assert client.get(url).status_code == 403
    assert client.post("/alice/m/upload/main", {"files": [SimpleUploadedFile("x.txt", b"x")]}).status_code == 403
    assert client.get("/alice/secret/upload/main").status_code == 404
    client.logout()
    assert client.post("/alice/m/delete/main/.gitattributes").status_code == 404
    assert ".gitattributes" in _files(Repo.objects.get(name="m"))


def test_portal_forms_need_csrf_tokens(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    make_repo(alice, "m")
    assert strict.post("/alice/m/edit/main/README.md", {"content": "# x"}).status_code == 403
    assert strict.post("/new", {"namespace": "alice", "name": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("sizes", "refusal"),
    [
        ([1025], "accepts files up to 1.0 KiB (1024 bytes)"),
        ([1000, 1000], "the most one commit may add"),
        ([10, 10, 10], "A commit may change at most 2 files."),
    ],
)
def test_upload_page_refuses_uploads_over_the_limits_before_storing_them(client, alice, settings, sizes, refusal):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 1536
    settings.GATEHOUSE_MAX_COMMIT_FILES = 2
    repo = make_repo(alice, "m")
    head = resolve_revision(repo, "main").commit_oid
    contents = [os.urandom(size) for size in sizes]
    client.force_login(alice)
    response = client.post(
        "/alice/m/upload/main",
        {
            "files": [SimpleUploadedFile(f"w{n}.bin", content) for n, content in enumerate(contents)],
            "directory": "unet",
            "summary": "My weights",
            "description": "Trained for a week",
        },
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert refusal in page
    assert 'value="My weights"' in page and ">Trained for a week</textarea>" in page and 'value="unet"' in page
    assert resolve_revision(repo, "main").commit_oid == head
    for content in contents:
        assert not get_storage().exists(hashlib.sha256(content).hexdigest())


def test_oversized_browser_upload_is_not_spooled(client, alice, settings, monkeypatch):
    # Django's handlers (memory, then a temp file) never see more than the limit plus one chunk.
    settings.GATEHOUSE_MAX_FILE_SIZE = 100 * 1024
    kept = []
    receive = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self, raw_data, start):
        kept.append(len(raw_data))
        return receive(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # straight to a temp file, as a large upload would
    make_repo(alice, "m")
    client.force_login(alice)
    big = os.urandom(4 * 1024 * 1024)
    response = client.post("/alice/m/upload/main", {"summary": "Big", "files": [SimpleUploadedFile("big.bin", big)]})
    assert response.status_code == 413
    assert "big.bin&#x27; is over the limit: this hub accepts files up to 100.0 KiB" in response.content.decode()
    assert 0 < sum(kept) <= 100 * 1024
    assert not get_storage().exists(hashlib.sha256(big).hexdigest())


def test_views_take_uploads_only_through_uploaded_files():
    # SECURITY: after LimitedUploadHandler refuses, request.FILES lacks files without a word;
    # only limits.uploaded_files() raises the refusal.
    root = Path(__file__).resolve().parents[2]
    packages = [folder for folder in root.iterdir() if (folder / "__init__.py").exists() and folder.name != "tests"]
    sources = [path for package in packages for path in package.rglob("*.py")]
    readers = sorted(str(path.relative_to(root)) for path in sources if "request.FILES" in path.read_text())
    assert readers == ["registry/limits.py"]


def test_upload_page_takes_a_folder_of_hundreds_of_files(client, alice):
    repo = make_repo(alice, "m")
    client.force_login(alice)
    uploads = [SimpleUploadedFile(f"f{n}.txt", b"%d" % n) for n in range(150)]
    assert client.post("/alice/m/upload/main", {"files": uploads}).status_code == 302
    assert {f"f{n}.txt" for n in range(150)} <= _files(repo)


def test_upload_page_accepts_uploads_at_the_limits(client, alice, settings):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 2048
    settings.GATEHOUSE_MAX_COMMIT_FILES = 2
    repo = make_repo(alice, "m")
    client.force_login(alice)
    uploads = [SimpleUploadedFile("a.bin", os.urandom(1024)), SimpleUploadedFile("b.bin", os.urandom(1024))]
    assert client.post("/alice/m/upload/main", {"files": uploads}).status_code == 302
    assert {"a.bin", "b.bin"} <= _files(repo)


def test_the_upload_page_may_connect_to_the_bucket_on_s3(client, alice, s3_backend):
    """The upload script PUTs parts to presigned URLs on the bucket: the page's CSP allows that
    origin for connections (and nothing else is loosened); on local storage it stays 'self'."""
    from registry.storage import s3uploads

    make_repo(alice, "m")
    client.force_login(alice)
    csp = client.get("/alice/m/upload/main")["Content-Security-Policy"]
    origin = s3uploads.upload_origin()
    assert origin.startswith("http://127.0.0.1:") and csp.endswith(f"; connect-src 'self' {origin}")
    assert "script-src 'self';" in csp and "default-src 'self';" in csp


def test_the_upload_page_connects_only_to_itself_on_local_storage(client, alice):
    make_repo(alice, "m")
    client.force_login(alice)
    assert "connect-src" not in client.get("/alice/m/upload/main")["Content-Security-Policy"]
