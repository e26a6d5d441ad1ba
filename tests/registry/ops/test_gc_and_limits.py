import base64
import hashlib
import json
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from registry import services
from registry.models import Commit, Ref, RepoObject, StoredObject
from registry.ops.gc import collect_garbage
from registry.services import upload_record
from registry.storage import get_storage
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db


def test_gc_removes_only_old_unreferenced_content(alice):
    repo = make_repo(alice, "m", {"kept.bin": b"\0keep" * 100, "replaced.txt": b"old"})
    commit_files(repo, {"replaced.txt": b"new"}, author=alice)  # old text stays referenced by history
    orphan_old = get_storage().put_bytes(b"abandoned upload")
    orphan_new = get_storage().put_bytes(b"upload in flight")
    StoredObject.objects.create(sha256=orphan_old, size=16, touched_at=timezone.now() - timedelta(days=3))
    StoredObject.objects.create(sha256=orphan_new, size=16)
    stray = get_storage().put_bytes(b"file without a row")
    os.utime(get_storage().path_for(stray), (0, 0))
    StoredObject.objects.exclude(sha256__in=[orphan_new]).update(touched_at=timezone.now() - timedelta(days=3))

    report = collect_garbage(grace=timedelta(days=1))
    assert report.deleted_objects == 1 and report.deleted_strays == 1
    assert not get_storage().exists(orphan_old) and not get_storage().exists(stray)
    assert get_storage().exists(orphan_new)
    for content in (b"\0keep" * 100, b"old", b"new"):
        assert get_storage().exists(hashlib.sha256(content).hexdigest())
    call_command("gc_blobs", "--grace-seconds", "86400")  # idempotent second run
    assert get_storage().exists(orphan_new)


def test_commit_racing_the_collector_either_keeps_its_object_or_fails_cleanly(alice):
    repo = make_repo(alice, "m")
    sha = get_storage().put_bytes(b"uploaded long ago")
    upload_record(sha256=sha, size=17, repo_id=repo.pk, user_id=None, by_writer=True)
    StoredObject.objects.filter(sha256=sha).update(touched_at=timezone.now() - timedelta(days=3))
    staged = services.blob_stage_stored(repo=repo, path="w.bin", sha256=sha, proof_from=None)
    collect_garbage(grace=timedelta(days=1))  # the object goes before the commit locks it
    with pytest.raises(Exception, match="not stored"):
        services.commit_create(repo=repo, branch="main", operations=[staged], summary="late", author=alice)
    # the other order: the commit touches the object, the collector keeps it
    sha2 = get_storage().put_bytes(b"also old")
    upload_record(sha256=sha2, size=8, repo_id=repo.pk, user_id=None, by_writer=True)
    StoredObject.objects.filter(sha256=sha2).update(touched_at=timezone.now() - timedelta(days=3))
    operation = services.blob_stage_stored(repo=repo, path="w2.bin", sha256=sha2, proof_from=None)
    services.commit_create(repo=repo, branch="main", operations=[operation], summary="in time", author=alice)
    collect_garbage(grace=timedelta(days=1))
    assert get_storage().exists(sha2)


@pytest.mark.django_db(transaction=True)
def test_limits_are_refused_up_front(hub, alice, settings, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024 * 1024
    make_repo(alice, "m")
    api = HfApi(token=token_for(alice))
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_file(path_or_fileobj=os.urandom(2 * 1024 * 1024), path_in_repo="big.safetensors", repo_id="alice/m")
    assert excinfo.value.response.status_code == 413
    assert "accepts files up to" in str(excinfo.value)
    assert not StoredObject.objects.filter(size=2 * 1024 * 1024).exists()


def _ndjson(*lines) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def _head(repo) -> str:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid


def test_commit_over_the_size_limit_is_refused_before_anything_is_created(client, alice, settings):
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 1536
    repo = make_repo(alice, "m")
    head = _head(repo)
    first, second = os.urandom(1000), os.urandom(1000)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    inline = _ndjson(
        {"key": "header", "value": {"summary": "too much"}},
        {"key": "file", "value": {"path": "a.bin", "content": base64.b64encode(first).decode()}},
        {"key": "file", "value": {"path": "b.bin", "content": base64.b64encode(second).decode()}},
    )
    response = client.post("/api/models/alice/m/commit/main", inline, content_type="application/x-ndjson", **headers)
    assert response.status_code == 413 and response["X-Error-Code"] == "PayloadTooLarge"
    assert "the most one commit may add on this hub" in response.json()["error"]
    assert not get_storage().exists(hashlib.sha256(second).hexdigest())
    # A declared LFS size is refused before the object is even looked up (it was never uploaded).
    declared = _ndjson(
        {"key": "header", "value": {"summary": "too much"}},
        {"key": "lfsFile", "value": {"path": "a.bin", "algo": "sha256", "oid": "a" * 64, "size": 2000}},
    )
    response = client.post("/api/models/alice/m/commit/main", declared, content_type="application/x-ndjson", **headers)
    assert response.status_code == 413 and "1.5 KiB (1536 bytes)" in response["X-Error-Message"]
    assert _head(repo) == head and Commit.objects.filter(repo=repo).count() == 1
    assert not RepoObject.objects.filter(repo=repo, sha256=hashlib.sha256(first).hexdigest()).exists()


def test_commit_declaring_a_file_over_the_file_limit_is_refused(client, alice, settings):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024
    repo = make_repo(alice, "m")
    head = _head(repo)
    body = _ndjson(
        {"key": "header", "value": {"summary": "big"}},
        {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": "c" * 64, "size": 4096}},
    )
    response = client.post(
        "/api/models/alice/m/commit/main",
        body,
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert response.status_code == 413 and "'big.bin' is 4.0 KiB (4096 bytes)" in response.json()["error"]
    assert _head(repo) == head


def test_lfs_batch_refuses_each_object_over_the_file_limit(client, alice, settings):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1024
    make_repo(alice, "m")
    big, small = "d" * 64, "e" * 64
    response = client.post(
        "/alice/m.git/info/lfs/objects/batch",
        {
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": big, "size": 1025}, {"oid": small, "size": 1024}],
        },
        content_type="application/vnd.git-lfs+json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert response.status_code == 200
    refused, accepted = response.json()["objects"]
    assert refused["oid"] == big and "actions" not in refused
    assert refused["error"]["code"] == 422
    assert refused["error"]["message"] == (
        f"Object {big} is 1.0 KiB (1025 bytes); this hub accepts files up to 1.0 KiB (1024 bytes)."
    )
    assert accepted["oid"] == small and "upload" in accepted["actions"]


@pytest.mark.django_db(transaction=True)
def test_the_hub_client_sees_the_commit_size_limit(hub, alice, settings, monkeypatch, tmp_path):
    """Each file passes preupload and the LFS batch; the commit as a whole is refused."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    settings.GATEHOUSE_MAX_COMMIT_SIZE = 3000
    settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES = 1000
    repo = make_repo(alice, "m")
    head = _head(repo)
    for name, size in (("a.txt", 900), ("w1.safetensors", 1100), ("w2.safetensors", 1100)):
        (tmp_path / name).write_bytes(os.urandom(size))
    api = HfApi(token=token_for(alice))
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_folder(folder_path=tmp_path, repo_id="alice/m")
    assert excinfo.value.response.status_code == 413
    assert "the most one commit may add on this hub" in str(excinfo.value)
    assert _head(repo) == head
    assert not {"a.txt", "w1.safetensors", "w2.safetensors"} & set(api.list_repo_files("alice/m"))
