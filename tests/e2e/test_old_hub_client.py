"""An older `huggingface_hub` (0.26.5, before Xet; scripts/ensure-old-hub-client installs it),
which negotiates every upload through the LFS batch API, against a live Gatehouse: create a repo,
commit LFS and regular files, download them back; a private repo looks missing to others."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from huggingface_hub import HfApi

from registry.models import UploadReceipt
from registry.selectors import resolve_revision
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

OLD_CLIENT = Path(__file__).resolve().parents[2] / ".venv" / "old-hub-client"

SCRIPT = """
import json, sys
import huggingface_hub
from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download
from huggingface_hub.utils import RepositoryNotFoundError
hub, token, other, folder = sys.argv[1:5]
api = HfApi(endpoint=hub, token=token)
api.create_repo("alice/old-client", private=True)
api.create_commit(
    "alice/old-client",
    operations=[
        CommitOperationAdd("weights.bin", f"{folder}/weights.bin"),
        CommitOperationAdd("config.json", f"{folder}/config.json"),
    ],
    commit_message="from an old client",
)
def fetch(name):
    path = hf_hub_download("alice/old-client", name, endpoint=hub, token=token, cache_dir=f"{folder}/cache")
    return open(path, "rb").read().hex()
got = {name: fetch(name) for name in ("weights.bin", "config.json")}
try:
    hf_hub_download("alice/old-client", "config.json", endpoint=hub, token=other, cache_dir=f"{folder}/other")
    refused = None
except RepositoryNotFoundError as exc:
    refused = type(exc).__name__
print(json.dumps({"version": huggingface_hub.__version__, "got": got, "refused": refused}))
"""


def test_an_older_client_uploads_through_the_lfs_batch_api(hub, alice, bob, tmp_path):
    if not (OLD_CLIENT / "huggingface_hub").is_dir():
        pytest.skip("scripts/ensure-old-hub-client has not run (make test runs it)")
    weights, config = os.urandom(300_000), b'{"hidden_size": 8}\n'
    (tmp_path / "weights.bin").write_bytes(weights)
    (tmp_path / "config.json").write_bytes(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    # HF_ENDPOINT as its users set it: this client parses the commit URL against it, not against
    # HfApi(endpoint=), and fails after a successful commit without it.
    env.update(
        HF_ENDPOINT=hub, PYTHONPATH=str(OLD_CLIENT), HF_HOME=str(tmp_path / "home"), HF_HUB_DISABLE_TELEMETRY="1"
    )
    args = [sys.executable, "-c", SCRIPT, hub, token_for(alice), token_for(bob), str(tmp_path)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    assert answer["version"] == "0.26.5"
    assert answer["got"] == {"weights.bin": weights.hex(), "config.json": config.hex()}
    assert answer["refused"] == "RepositoryNotFoundError"
    # The weights went through the LFS batch API (no Xet in this client): stored as LFS content,
    # with alice's proof of possession recorded when the hub verified the bytes.
    [info] = HfApi(endpoint=hub, token=token_for(alice)).get_paths_info("alice/old-client", ["weights.bin"])
    assert info.lfs is not None and info.lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert UploadReceipt.objects.filter(user=alice, sha256=info.lfs.sha256, repo__name="old-client").exists()


PULL_REQUEST_SCRIPT = """
import json, sys
from huggingface_hub import HfApi, CommitOperationAdd
hub, token, folder = sys.argv[1:4]
api = HfApi(endpoint=hub, token=token)
def open_pr(name):
    try:
        info = api.create_commit(
            "alice/open", operations=[CommitOperationAdd(name, f"{folder}/{name}")],
            commit_message="from a contributor", create_pr=True,
        )
        return {"pr": info.pr_revision}
    except ValueError as exc:  # this client's report of per-object errors in the LFS batch
        return {"error": str(exc)}
print(json.dumps([open_pr("weights.bin"), open_pr("more.bin")]))
"""


def test_a_contributor_opens_a_pull_request_with_lfs_files_within_their_quota(hub, alice, bob, tmp_path, settings):
    """No write access: the LFS batch takes bob's uploads to a pull request, charged to his
    daily contributor quota (here room for the first file only), and his receipt proves them."""
    if not (OLD_CLIENT / "huggingface_hub").is_dir():
        pytest.skip("scripts/ensure-old-hub-client has not run (make test runs it)")
    repo = make_repo(alice, "open", {"README.md": b"# open\n"})
    cache.clear()  # quotas are kept by user id, which repeats across test databases
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = 250_000
    weights, more = os.urandom(200_000), os.urandom(200_000)
    (tmp_path / "weights.bin").write_bytes(weights)
    (tmp_path / "more.bin").write_bytes(more)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=hub, PYTHONPATH=str(OLD_CLIENT), HF_HOME=str(tmp_path / "home"), HF_HUB_DISABLE_TELEMETRY="1"
    )
    args = [sys.executable, "-c", PULL_REQUEST_SCRIPT, hub, token_for(bob), str(tmp_path)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout.strip().splitlines()[-1])

    assert first.get("pr") == "refs/pr/1", first
    sha = hashlib.sha256(weights).hexdigest()
    assert UploadReceipt.objects.filter(repo=repo, user=bob, sha256=sha).exists()
    api = HfApi(endpoint=hub, token=token_for(alice))
    [info] = api.get_paths_info("alice/open", ["weights.bin"], revision="refs/pr/1")
    assert info.lfs is not None and info.lfs.sha256 == sha
    assert resolve_revision(repo, "main").commit_oid != resolve_revision(repo, "refs/pr/1").commit_oid
    # Past the quota: refused with the reason, nothing stored or proven for the second file.
    assert "pr" not in second and "uploaded to pull requests" in second["error"]
    assert not UploadReceipt.objects.filter(user=bob, sha256=hashlib.sha256(more).hexdigest()).exists()
