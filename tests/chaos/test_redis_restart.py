"""A Redis restart with work queued loses nothing that a request acknowledged (issue 17).

Redis as deployed here keeps nothing on disk, so a restart empties every queue. A private
redis-server (its own port, `--save ''`), never the suite's, is the broker of a real gunicorn; no worker
runs yet, so what requests queue waits in Redis: the pickle scan of a commit, the notification
mails of a new discussion, and a preview (the tiny pipeline, on the CPU). Redis is killed (SIGKILL)
and started again, empty; one more commit and one more comment come in while it is down, and one
after it is back: all are acknowledged. Then a worker with its beat starts. Every scan gets its
verdict (the beat's `scans_requeue`, from the FileScan rows), every notification is mailed exactly
once (the outbox, core/outbox.py: rows written with the events, published again by `outbox_relay`),
the preview gets exactly one result (the beat's `preview_jobs_reap`, from the PreviewJob row), and
fsck passes.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests
from huggingface_hub import HfApi

from community.models import Discussion
from core.models import OutboxMessage
from registry.models import FileScan, ScanStatus
from tests.chaos.invariants import check_invariants
from tests.e2e.conftest import wait_for, worker_database_url
from tests.support.builders import make_repo, token_for
from tests.support.gunicorn import deployed_gunicorn, free_port
from tests.support.previews import media_files, preview_body
from tests.support.worker_process import start_worker
from workers.models import JobStatus, PreviewJob, PreviewRequest, SafetyVerdict

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class PrivateRedis:
    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(self._answers, timeout=10, what="redis-server to start")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def queued(self, queue: str = "celery") -> int:
        return int(redis.Redis(port=self.port).llen(queue))


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


def test_work_queued_before_a_redis_restart_is_done_after_it(
    private_redis, tmp_path, alice, bob, tiny_sd_files, checker_dir, settings
):
    repo = make_repo(alice, "model", {"README.md": b"# Model\n"})
    make_repo(alice, "tiny-sd", tiny_sd_files)
    mails = tmp_path / "mails"
    previews = {
        "GATEHOUSE_SAFETY_CHECKER_PATH": str(checker_dir),
        "GATEHOUSE_PREVIEW_MEDIA_ROOT": str(tmp_path / "media"),
        "GATEHOUSE_PREVIEW_MODEL_CACHE": str(tmp_path / "models"),
        "GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS": "",
        "GATEHOUSE_PREVIEW_SLD_MINIMUM": "off",
        "GATEHOUSE_PREVIEW_CPU_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    settings.GATEHOUSE_PREVIEW_MEDIA_ROOT = tmp_path / "media"
    common = {
        **previews,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": "",  # the cache in var/, not the suite's Redis
        "CELERY_BROKER_URL": private_redis.url,
        "GATEHOUSE_STORAGE_ROOT": str(settings.GATEHOUSE_STORAGE_ROOT),
        "GATEHOUSE_LOOKUP_CACHE": "false",
        "EMAIL_URL": f"filemail:///{mails}",
    }
    alice_token, bob_token = token_for(alice), token_for(bob)
    acknowledged: list[str] = []
    web_env = {**common, "GATEHOUSE_VAR_DIR": str(tmp_path / "web")}
    with deployed_gunicorn(log=tmp_path / "web.log", env=web_env) as base:
        api = HfApi(endpoint=base, token=alice_token)

        def commit(name: str) -> None:
            info = api.upload_file(path_or_fileobj=name.encode() * 50, path_in_repo=name, repo_id=repo.repo_id)
            acknowledged.append(info.oid)

        def post(path: str, body: dict, token: str, repo_id: str = repo.repo_id) -> requests.Response:
            return requests.post(
                f"{base}/api/models/{repo_id}/{path}",
                data=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=60,
            )

        commit("before.txt")
        assert post("discussions", {"title": "Speed", "description": "Is it fast?"}, bob_token).status_code == 200
        assert post("previews", preview_body(seed=3), alice_token, "alice/tiny-sd").status_code == 202
        assert private_redis.queued() >= 2  # a scan and a notification, waiting for a worker
        assert private_redis.queued("gpu") == 1  # and the preview

        private_redis.kill()
        commit("during.txt")  # acknowledged while the broker is down
        assert post("discussions/1/comment", {"comment": "Yes."}, alice_token).status_code == 200
        private_redis.start()
        assert private_redis.queued() == 0  # Redis came back empty
        commit("after.txt")
        assert post("discussions/1/comment", {"comment": "Very."}, alice_token).status_code == 200

        worker_env = {
            **common,
            "GATEHOUSE_VAR_DIR": str(tmp_path / "worker"),
            # Long enough that scans queued behind a busy worker (its child's torch imports took
            # 40 s on a loaded box) are not sent three times and given up as `error` meanwhile.
            "GATEHOUSE_SCAN_RETRY_AFTER": "20",
            "GATEHOUSE_OUTBOX_RETRY_AFTER": "3",
            "GATEHOUSE_OUTBOX_RELAY_INTERVAL": "1",
            "GATEHOUSE_PREVIEW_REQUEUE_AFTER": "3",
            "GATEHOUSE_PREVIEW_REAP_INTERVAL": "1",
        }
        # As deployed (README): background work and previews in workers of their own, so that a
        # preview on a busy CPU does not hold the scans past their requeue time.
        worker = start_worker(name="after-restart", folder=tmp_path, env=worker_env, beat=True, queues="celery")
        gpu_env = {**worker_env, "GATEHOUSE_VAR_DIR": str(tmp_path / "gpu-worker")}
        gpu_worker = start_worker(name="previews", folder=tmp_path, env=gpu_env, queues="gpu")
        try:
            wait_for(
                lambda: (
                    not FileScan.objects.filter(status=ScanStatus.QUEUED).exists()
                    and not OutboxMessage.objects.filter(done_at__isnull=True).exists()
                    and not PreviewJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()
                ),
                timeout=240,
                interval=0.5,
                what="every scan, notification and preview",
            )
            time.sleep(3)  # a relay or requeue tick more: nothing may run twice
        finally:
            worker.stop()
            gpu_worker.stop()
        log = worker.output() + gpu_worker.output()

    verdicts = dict(FileScan.objects.values_list("filename", "status"))
    assert {"before.txt", "during.txt", "after.txt"} <= set(verdicts), verdicts
    assert not {ScanStatus.QUEUED, ScanStatus.ERROR} & set(verdicts.values()), (verdicts, log[-3000:])
    messages = OutboxMessage.objects.order_by("pk")
    assert messages.count() == 3 and all(m.done_at and m.runs == 1 and not m.abandoned_at for m in messages)
    assert "runs again" not in log
    sent = "".join(path.read_text() for path in mails.glob("*.log"))
    subjects = re.findall(r"^Subject: (.*)$", sent, re.M)
    recipients = re.findall(r"^To: (.*)$", sent, re.M)
    # One mail per event and recipient, no more: bob's new thread to alice (she moderates the
    # repo), alice's two comments to bob (he opened the thread).
    assert subjects == [f"[{repo.repo_id}] Speed (discussion #1)"] * 3, sent[-3000:]
    assert sorted(recipients) == sorted([alice.email, bob.email, bob.email]), sent[-3000:]
    assert Discussion.objects.get(repo=repo).events.count() == 3
    (job,) = PreviewJob.objects.all()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, (job.error, log[-3000:])
    assert PreviewRequest.objects.count() == 1 and media_files(settings) == [job.result_sha256]
    assert SafetyVerdict.objects.filter(job=job, stage="checker").count() == 1
    check_invariants(repo, ref_name="refs/heads/main", acknowledged=acknowledged)
