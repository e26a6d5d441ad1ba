"""Upgrading an install seeded through the old code path: the version before the pointer rule
(commit LEGACY) builds the aliased and poisoned repos exactly as it did; this version's
migrations then reinterpret and quarantine them.

Runs both versions as subprocesses over one SQLite database and blob store, so it needs git
history (CI clones it whole)."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEGACY = "37441ff"  # the last commit before content was proven per repo

# SEED runs on the code of LEGACY, so it uses that commit's module and service names.
SEED = r"""
import hashlib
from accounts.models import User
from registry import gitobjects, services
from registry.selectors import gitattributes_at

WEIGHTS = bytes(range(256)) * 40
LATER = b"dave's weights" * 300

def commit(repo, author, files):
    attributes = gitattributes_at(repo, "main")
    ops = [services.stage_bytes(path=p, content=c, gitattributes=attributes) for p, c in files.items()]
    services.commit_create(repo=repo, branch="main", operations=ops, summary="add", author=author)

def pointer(data):
    return gitobjects.lfs_pointer(hashlib.sha256(data).hexdigest(), len(data))

users = {name: User.objects.create_user(username=name, email=f"{name}@example.org") for name in
         ("alice", "bob", "carol", "dave")}
victim = services.repo_create(namespace="alice", name="gated", creator=users["alice"])
commit(victim, users["alice"], {"model.safetensors": WEIGHTS, "config.json": b"{}"})
services.repo_settings_update(repo=victim, gated="manual")
# victim first: bob's regular pointer file gives bob's commit alice's tree row
copy = services.repo_create(namespace="bob", name="copy", creator=users["bob"])
ops = [services.stage_bytes(path="model.safetensors", content=pointer(WEIGHTS), lfs=False),
       services.stage_bytes(path="config.json", content=b"{}", lfs=False)]
services.commit_create(repo=copy, branch="main", operations=ops, summary="copy", author=users["bob"])
# attacker first: carol plants the pointer of weights dave uploads later
plant = services.repo_create(namespace="carol", name="plant", creator=users["carol"])
ops = [services.stage_bytes(path="model.safetensors", content=pointer(LATER), lfs=False)]
services.commit_create(repo=plant, branch="main", operations=ops, summary="plant", author=users["carol"])
honest = services.repo_create(namespace="dave", name="honest", creator=users["dave"])
commit(honest, users["dave"], {"model.safetensors": LATER})
"""

CHECK = r"""
import json
from django.conf import settings
from django.test import Client
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # no collectstatic here
from accounts.models import User
from registry.models import QuarantinedContent

def get(path, user=None):
    client = Client()
    if user:
        client.force_login(User.objects.get(username=user))
    response = client.get(path)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return {"status": response.status_code, "code": response.get("X-Error-Code", ""), "size": len(body),
            "notice": b"quarantine-warning" in body}

print(json.dumps({
    "bob_weights": get("/bob/copy/resolve/main/model.safetensors"),
    "bob_config": get("/bob/copy/resolve/main/config.json"),
    "alice_weights": get("/alice/gated/resolve/main/model.safetensors"),
    "carol_weights": get("/carol/plant/resolve/main/model.safetensors"),
    "dave_weights": get("/dave/honest/resolve/main/model.safetensors"),
    "bob_page": get("/bob/copy", user="bob"),
    "dave_page": get("/dave/honest", user="dave"),
    "quarantined": sorted(QuarantinedContent.objects.values_list("repo__namespace", flat=True)),
}))
"""


def _run(cwd: Path, env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def legacy_tree(tmp_path) -> Path:
    archive = tmp_path / "legacy.tar"
    subprocess.run(["git", "archive", "-o", str(archive), LEGACY], cwd=ROOT, check=True)
    folder = tmp_path / "legacy"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_old_aliases_are_reinterpreted_and_quarantined_on_upgrade(tmp_path, legacy_tree):
    var = tmp_path / "var"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DATABASE", "REDIS", "GATEHOUSE"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'upgrade.sqlite3'}",
        "GATEHOUSE_VAR_DIR": str(var),
        "GATEHOUSE_STORAGE_ROOT": str(var / "storage"),
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "ALLOWED_HOSTS": "testserver",
        "SECRET_KEY": "upgrade-test",
    }
    _run(legacy_tree, env, "migrate", "--noinput", "-v0")
    _run(legacy_tree, env, "shell", "-c", SEED)

    _run(ROOT, env, "migrate", "--noinput", "-v0")
    seen = json.loads(_run(ROOT, env, "shell", "-c", CHECK).strip().splitlines()[-1])

    # victim first: bob's repo served alice's gated weights anonymously; now quarantined
    assert seen["bob_weights"]["status"] == 410 and seen["bob_weights"]["code"] == "ContentQuarantined"
    assert seen["bob_config"]["status"] == 200  # bytes bob sent himself stay his
    assert seen["alice_weights"]["status"] == 401 and seen["alice_weights"]["code"] == "GatedRepo"
    # attacker first: dave's honest upload is served whole again, carol's plant is quarantined
    assert seen["dave_weights"] == {"status": 200, "code": "", "size": len(b"dave's weights") * 300, "notice": False}
    assert seen["carol_weights"]["status"] == 410
    assert seen["bob_page"]["notice"] and not seen["dave_page"]["notice"]
    assert seen["quarantined"] == ["bob", "carol"]
    # nothing is left for fsck to repair, and nothing else is wrong
    assert "repaired" not in _run(ROOT, env, "registry_fsck", "--repair")
    _run(ROOT, env, "registry_fsck")
