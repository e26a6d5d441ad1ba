"""kill -9 of a web process in the middle of a large-file upload (issue 17): an LFS multipart
completion after the object is stored and before the repo may use it (`lfs.after_publish`), and a
Xet shard registration inside its transaction (`xet.shard_in_txn`).

A real gunicorn serves the real Hub client; the point is armed once across processes (the state
folder), so the master's replacement worker lives. The client's own retries (huggingface_hub
retries the completion on a dropped connection, hf_xet the shard), or failing those one retry of
the upload, must end with the file committed whole, recorded once for the repo, byte-identical
on download, no multipart parts left behind, and the invariants (fsck re-hashed, every
acknowledged commit on the branch, nothing half there).
"""

from __future__ import annotations

import hashlib
import os

import pytest
import requests
from django.conf import settings
from huggingface_hub import HfApi, constants

from registry.models import RepoObject, StoredObject
from registry.storage import get_storage
from registry.storage.uploads import PART_DIR_PREFIX
from tests.chaos.invariants import check_invariants
from tests.e2e.conftest import worker_database_url
from tests.support.builders import make_repo, token_for
from tests.support.gunicorn import gunicorn
from xet.models import XetFile, XetShard, XetUpload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def upload_through_a_crash(point: str, tmp_path, alice, data: bytes, extra_env: dict[str, str]) -> dict:
    """Upload `data` to a fresh repo under gunicorn with `point` armed once; retry the upload once
    if the client's own retries did not carry it. Returns what the test checks."""
    repo = make_repo(alice, "weights")
    state = tmp_path / "faults"
    state.mkdir()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "CELERY_BROKER_URL": "gatehouse-fs://",  # scan tasks wait in the temp dir, untouched
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "GATEHOUSE_FAULTPOINTS": f"{point}:1",
        "GATEHOUSE_FAULTPOINTS_STATE": str(state),
        **extra_env,
    }
    token = token_for(alice)
    acknowledged, failures = [], []
    with gunicorn("config.wsgi", log=tmp_path / "gunicorn.log", env=env) as url:
        api = HfApi(endpoint=url, token=token)
        for _attempt in range(2):
            try:
                info = api.upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id=repo.repo_id)
            except Exception as exc:  # the client's retries did not carry it: once more, as a user would
                failures.append(repr(exc))
                continue
            acknowledged.append(info.oid)
            break
        downloaded = requests.get(
            f"{url}/{repo.repo_id}/resolve/main/w.safetensors", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ).content
        files = set(api.list_repo_files(repo.repo_id))
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert acknowledged, (failures, log[-3000:])
    assert "was sent SIGKILL" in log, log[-3000:]  # the worker died at the point, not otherwise
    assert sorted(p.name for p in state.iterdir())[0] == f"{point}.1"
    check_invariants(repo, ref_name="refs/heads/main", acknowledged=acknowledged)
    assert files == {".gitattributes", "w.safetensors"}
    assert downloaded == data
    return {"repo": repo, "sha256": hashlib.sha256(data).hexdigest(), "failures": failures}


def test_kill_9_after_a_multipart_object_is_stored_before_it_is_recorded(tmp_path, alice, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the LFS multipart path
    data = os.urandom(3 * MIB)
    small_parts = {"GATEHOUSE_LFS_MULTIPART_THRESHOLD": str(MIB), "GATEHOUSE_LFS_CHUNK_SIZE": str(MIB)}
    found = upload_through_a_crash("lfs.after_publish", tmp_path, alice, data, small_parts)
    # huggingface_hub's own retry of the completion carried it: the parts were still there to
    # assemble again (before, they were gone and the retry got 404: the upload failed).
    assert found["failures"] == []
    assert RepoObject.objects.filter(repo=found["repo"], sha256=found["sha256"]).count() == 1
    assert StoredObject.objects.filter(sha256=found["sha256"], size=len(data)).count() == 1
    # The parts stayed for the retried completion, and went once it recorded the object.
    assert not list(get_storage().tmp_dir.glob(f"{PART_DIR_PREFIX}*"))


def test_kill_9_inside_a_xet_shard_registration(tmp_path, alice):
    data = os.urandom(3 * MIB) + bytes(MIB)
    found = upload_through_a_crash("xet.shard_in_txn", tmp_path, alice, data, {})
    (xet_file,) = XetFile.objects.filter(sha256=found["sha256"])  # registered once
    assert XetUpload.objects.filter(file=xet_file, repo=found["repo"]).count() == 1
    assert XetShard.objects.filter(pk=xet_file.shard_id).exists()
    assert RepoObject.objects.filter(repo=found["repo"], sha256=found["sha256"]).count() == 1
