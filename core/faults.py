"""Named crash points for the fault-injection tests (issue 17).

`faults.point("commit.in_ref_txn")` marks a place where a process may die, a name that later
refactoring keeps. Unarmed (always, outside those tests) it costs one falsy check. A test arms
points through GATEHOUSE_FAULTPOINTS, `name:n[,name:n...]`: the n-th time this process passes the
point, it kills itself with SIGKILL, as the OOM killer or a power cut would, with no chance to
clean up. `manage.py check --deploy` fails while any point is armed.

The points and what a crash there must leave behind (tests/chaos/test_web_crash_points.py):
- `commit.after_staging`: blobs stored, nothing committed: the branch is where it was.
- `commit.in_ref_txn`: the ref moved inside the transaction, never committed: as above.
- `commit.after_ref_moved`: committed, the response not sent: the commit is whole and on the
  branch, though the client was never told.
- `lfs.after_publish`: a multipart upload's object is assembled and stored, not yet recorded for
  the repo: the repo cannot use it yet; the parts are still there, so the client's retry of the
  completion records it.
- `xet.shard_in_txn`: a shard's files are written inside the transaction that never commits:
  nothing registered; the client's retry registers it once.
- `scan.before_record`: a worker scanned a file and dies before recording the verdict: the scan
  is sent again (the broker's redelivery or the beat's requeue) and recorded exactly once.
- `preview.before_finish`: a worker rendered and stored a preview (or a bias report's cell) and
  dies before finishing the job: the reaper queues it again and it ends with exactly one result.
- `outbox.after_run`: a worker ran an outbox message (sent its mails) and dies before marking it
  done: it runs again once its claim expires (at least once; the rerun is logged, and each mail
  keeps its Message-ID, the receiver's idempotency key).
- `release.in_stage_txn`: a scheduled release stage applied inside the transaction that never
  commits: the next beat tick applies it, exactly once.

tests/chaos/test_upload_crash_points.py, test_worker_crash_points.py (the scan) and
test_worker_job_crash_points.py (the rest) kill there.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from django.conf import settings
from django.core import checks
from django.db import transaction

POINTS = (
    "commit.after_staging",
    "commit.in_ref_txn",
    "commit.after_ref_moved",
    "lfs.after_publish",
    "xet.shard_in_txn",
    "scan.before_record",
    "preview.before_finish",
    "outbox.after_run",
    "release.in_stage_txn",
)

_hits: Counter[str] = Counter()
_armed: dict[str, int] | None = None


def parse(spec: str) -> dict[str, int]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition(":")
        if name not in POINTS:
            raise ValueError(f"Unknown fault point {name!r}; known: {', '.join(POINTS)}")
        armed[name] = int(nth or 1)
    return armed


def _is_armed(name: str) -> bool:
    global _armed
    if _armed is None:
        _armed = parse(getattr(settings, "GATEHOUSE_FAULTPOINTS", ""))
    return name in _armed


def _count(name: str) -> int:
    """This pass's number: per process, or with GATEHOUSE_FAULTPOINTS_STATE (a folder) across all
    processes, so that a worker's replacement child does not die at the same point again."""
    folder = getattr(settings, "GATEHOUSE_FAULTPOINTS_STATE", "")
    if not folder:
        _hits[name] += 1
        return _hits[name]
    nth = 1
    while True:
        try:
            os.close(os.open(os.path.join(folder, f"{name}.{nth}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return nth
        except FileExistsError:
            nth += 1


def point(name: str) -> None:
    if not _is_armed(name):
        return
    if _count(name) == (_armed or {})[name]:
        os.kill(os.getpid(), signal.SIGKILL)


def point_after_commit(name: str) -> None:
    """`point(name)` once the current transaction has committed (before the response goes)."""
    if _is_armed(name):
        transaction.on_commit(lambda: point(name))


@checks.register(checks.Tags.security, deploy=True)
def check_unarmed(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if getattr(settings, "GATEHOUSE_FAULTPOINTS", ""):
        return [
            checks.Error(
                "GATEHOUSE_FAULTPOINTS is set: processes will kill themselves at these points.",
                hint="Unset it; it is for the fault-injection tests only.",
                id="gatehouse.E017",
            )
        ]
    return []
