"""The object store down: clear 503s at once (within the connect timeout and retry count the
settings give), and nothing acknowledged that was not stored."""

import socket

import pytest

from registry.models import Ref
from registry.storage import content, get_storage, reset_storage_caches
from tests.support.builders import make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3_backend")]
WEIGHTS = b"\7" * 4096


def _take_the_store_away(settings, monkeypatch) -> None:
    """Point the storage at a port nothing listens on, with one attempt and a short timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    settings.GATEHOUSE_S3_MAX_ATTEMPTS = 1
    settings.GATEHOUSE_S3_CONNECT_TIMEOUT = 1
    reset_storage_caches()
    content._STORED.clear()


def test_downloads_answer_503_while_the_store_is_unreachable(client, alice, settings, monkeypatch):
    make_repo(alice, "m", {"w.safetensors": WEIGHTS})
    _take_the_store_away(settings, monkeypatch)

    for method in (client.head, client.get):
        answer = method("/alice/m/resolve/main/w.safetensors")
        assert answer.status_code == 503 and answer["X-Error-Code"] == "StorageUnavailable"
        assert answer["Retry-After"] == "10" and "Location" not in answer


def test_an_upload_while_the_store_is_unreachable_is_refused_and_leaves_nothing(client, alice, settings, monkeypatch):
    repo = make_repo(alice, "m", {"a.txt": b"first"})
    head = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid
    _take_the_store_away(settings, monkeypatch)

    answer = post_commit(client, token_for(alice), "alice/m", [inline_file("new.txt", b"never stored")])

    assert answer.status_code == 503 and answer["X-Error-Code"] == "StorageUnavailable"
    assert Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid == head
    assert list(get_storage().tmp_dir.iterdir()) == []
