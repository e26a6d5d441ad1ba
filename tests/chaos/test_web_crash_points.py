"""kill -9 of a web process at each named crash point of a commit (issue 17, step 4; G2).

A real gunicorn serves the real Hub client; GATEHOUSE_FAULTPOINTS makes its worker SIGKILL
itself the third time it passes the point. The master starts a new worker, the client goes on
committing, and then the invariants must hold: fsck (re-hashed) passes, every acknowledged commit
is on the branch in order, and the crashed commit is either absent (before the transaction
committed) or whole and on the branch (after it), never half there.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from huggingface_hub import HfApi

from core import faults
from registry.models import Commit
from tests.chaos.invariants import check_invariants
from tests.e2e.conftest import worker_database_url
from tests.support.builders import make_repo, token_for
from tests.support.gunicorn import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

CRASH_ON = 3  # the third commit of the worker crashes; two are acknowledged before it
COMMITS = 5


# `make test` keeps one point, the kill inside the ref transaction (issue 17's fast subset, about
# 10 s); `make test-slow` and `make test-faults` run them all.
FAST = "commit.in_ref_txn"


@pytest.mark.parametrize(
    "point",
    [p if p == FAST else pytest.param(p, marks=pytest.mark.slow) for p in faults.POINTS if p.startswith("commit.")],
)
def test_kill_9_at_a_commit_crash_point_loses_nothing_acknowledged(point, tmp_path, alice):
    repo = make_repo(alice, "ledger")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "GATEHOUSE_VAR_DIR": str(tmp_path / "var"),
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "CELERY_BROKER_URL": "gatehouse-fs://",  # scan tasks wait in the temp dir, untouched
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "GATEHOUSE_FAULTPOINTS": f"{point}:{CRASH_ON}",
    }
    acknowledged: list[str] = []
    failed: list[int] = []
    with gunicorn("config.wsgi", log=tmp_path / "gunicorn.log", env=env) as url:
        api = HfApi(endpoint=url, token=token_for(alice))
        for i in range(COMMITS):
            try:
                info = api.upload_file(
                    path_or_fileobj=f"commit {i}\n".encode() * 100,
                    path_in_repo=f"file-{i}.txt",
                    repo_id=repo.repo_id,
                    commit_message=f"c{i}",
                )
            except Exception:  # the connection dies with the worker: the client hears nothing
                failed.append(i)
                continue
            acknowledged.append(info.oid)
        files = set(api.list_repo_files(repo.repo_id))
        log = (tmp_path / "gunicorn.log").read_text(errors="replace")

    assert failed == [CRASH_ON - 1], log[-3000:]
    assert "was sent SIGKILL" in log, log[-3000:]  # the worker died of the fault point, not otherwise
    history = check_invariants(repo, ref_name="refs/heads/main", acknowledged=acknowledged)
    crashed = Commit.objects.filter(repo=repo, title=f"c{CRASH_ON - 1}")
    committed = {i for i in range(COMMITS) if i not in failed}
    if point == "commit.after_ref_moved":
        assert crashed.count() == 1 and crashed.get() in history  # durable, though never acknowledged
        committed.add(CRASH_ON - 1)
    else:
        assert not crashed.exists()
    assert files == {".gitattributes"} | {f"file-{i}.txt" for i in committed}
