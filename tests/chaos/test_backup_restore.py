"""Backup of a running hub and restore onto a fresh install, SQLite and PostgreSQL (issue 17).

Hub A serves the Hub client (gunicorn) and keeps taking commits while `manage.py backup` runs.
`manage.py restore` puts the backup on a fresh install B (it runs fsck with a re-hash itself);
B then serves every file of its snapshot byte-identical to what was uploaded under that name.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
import threading
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download

from tests.chaos import services
from tests.support.gunicorn import ROOT, gunicorn
from tests.support.seaweedfs import BUCKET

pytestmark = pytest.mark.slow


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def install(tmp_path: Path, name: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        GATEHOUSE_VAR_DIR=str(tmp_path / name / "var"),
        GATEHOUSE_STORAGE_ROOT=str(tmp_path / name / "storage"),
    )
    return env


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_backup_of_a_running_hub_restores_byte_identical(vendor, tmp_path):
    if vendor == "postgresql" and not services.available():
        pytest.skip("needs PostgreSQL's server binaries and runuser")
    rng = random.Random(17)
    with ExitStack() as stack:
        if vendor == "postgresql":
            pg = stack.enter_context(services.private_postgres())
            services.as_postgres(
                str(services.BIN / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "fresh"
            )
            source_url, fresh_url = pg.url, pg.url.rsplit("/", 1)[0] + "/fresh"
        else:
            source_url = f"sqlite:///{tmp_path / 'a' / 'var' / 'hub.sqlite3'}"
            fresh_url = f"sqlite:///{tmp_path / 'b' / 'var' / 'hub.sqlite3'}"
        a, b = install(tmp_path, "a", source_url), install(tmp_path, "b", fresh_url)
        manage(a, "migrate", "--noinput", "-v0")
        manage(a, "createuser", "alice", "--email", "alice@example.org", "--password", "x" * 24)
        token = manage(a, "mint_token", "alice", "--role", "write", "--name", "backup").strip()

        with gunicorn("config.wsgi", log=tmp_path / "a.log", env=a) as url_a:
            api_a = HfApi(endpoint=url_a, token=token)
            api_a.create_repo("alice/kept")

            def commit(i: int) -> None:
                size = 3 * 1024 * 1024 if i % 3 == 0 else 2000  # through Xet (the client's default) and inline
                data = rng.randbytes(size)
                api_a.upload_file(path_or_fileobj=data, path_in_repo=f"f{i % 4}.bin", repo_id="alice/kept")

            for i in range(4):
                commit(i)
            stop = threading.Event()

            def keep_committing() -> None:
                i = 4
                while not stop.is_set():
                    commit(i)
                    i += 1

            # A rendered preview: in a store of its own, outside the blob store (found by a review:
            # local backups left previews out).
            image = tmp_path / "a" / "var" / "previews" / "objects" / "ab" / "cd" / ("ab" * 32)
            image.parent.mkdir(parents=True)
            image.write_bytes(b"\x89PNG a preview")
            writer = threading.Thread(target=keep_committing)
            writer.start()
            try:
                manage(a, "backup", str(tmp_path / "backup"))
            finally:
                stop.set()
                writer.join()

            manage(b, "migrate", "--noinput", "-v0")  # a fresh install
            assert "fsck checked" in manage(b, "restore", str(tmp_path / "backup"))
            restored_image = tmp_path / "b" / "var" / image.relative_to(tmp_path / "a" / "var")
            assert restored_image.read_bytes() == image.read_bytes()
            with gunicorn("config.wsgi", log=tmp_path / "b.log", env=b) as url_b:
                api_b = HfApi(endpoint=url_b, token=token)  # tokens are stored hashed: they survive
                head = api_b.list_repo_commits("alice/kept")[0].commit_id
                assert head in {c.commit_id for c in api_a.list_repo_commits("alice/kept")}  # not a torn state
                files = api_b.list_repo_files("alice/kept", revision=head)
                assert files == api_a.list_repo_files("alice/kept", revision=head)
                for path in files:
                    restored = download(url_b, token, path, head, tmp_path / "b-dl")
                    original = download(url_a, token, path, head, tmp_path / "a-dl")
                    assert restored == original, path


def download(url: str, token: str, path: str, revision: str, cache: Path) -> str:
    local = hf_hub_download("alice/kept", path, revision=revision, endpoint=url, token=token, cache_dir=cache)
    return hashlib.sha256(Path(local).read_bytes()).hexdigest()


def test_backup_of_a_hub_on_s3_copies_the_bucket_and_restores_onto_another_prefix(tmp_path, s3_store):
    """The S3 backend: the bucket's objects go into the backup folder (incrementally), and a restore
    onto a fresh install with a fresh prefix uploads them there; B then serves what A served."""
    run = uuid.uuid4().hex[:8]
    a = install(tmp_path, "a", f"sqlite:///{tmp_path / 'a' / 'var' / 'hub.sqlite3'}")
    b = install(tmp_path, "b", f"sqlite:///{tmp_path / 'b' / 'var' / 'hub.sqlite3'}")
    a["GATEHOUSE_STORAGE_URL"] = f"s3://{BUCKET}/backup-{run}/a"
    b["GATEHOUSE_STORAGE_URL"] = f"s3://{BUCKET}/backup-{run}/b"
    manage(a, "migrate", "--noinput", "-v0")
    manage(a, "createuser", "alice", "--email", "alice@example.org", "--password", "x" * 24)
    token = manage(a, "mint_token", "alice", "--role", "write", "--name", "backup").strip()
    rng = random.Random(15)
    with gunicorn("config.wsgi", log=tmp_path / "a.log", env=a) as url_a:
        api_a = HfApi(endpoint=url_a, token=token)
        api_a.create_repo("alice/kept")
        for i, size in enumerate((3 * 1024 * 1024, 2000, 300_000)):  # through Xet, inline, Xet
            api_a.upload_file(path_or_fileobj=rng.randbytes(size), path_in_repo=f"f{i}.bin", repo_id="alice/kept")
        first = manage(a, "backup", str(tmp_path / "backup"))
        api_a.upload_file(path_or_fileobj=rng.randbytes(5000), path_in_repo="late.bin", repo_id="alice/kept")
        again = manage(a, "backup", str(tmp_path / "backup"))
        stored_now, copied_now = (
            int(n) for n in re.search(r"and (\d+) stored files \(\d+ bytes, (\d+)", again).groups()
        )
        assert 0 < copied_now < stored_now, again  # only what is new since the first backup
        assert "copied now" in first and list((tmp_path / "backup" / "storage" / "xet" / "objects").rglob("*"))

        manage(b, "migrate", "--noinput", "-v0")
        assert "fsck checked" in manage(b, "restore", str(tmp_path / "backup"))
        with gunicorn("config.wsgi", log=tmp_path / "b.log", env=b) as url_b:
            head = HfApi(endpoint=url_b, token=token).list_repo_commits("alice/kept")[0].commit_id
            files = HfApi(endpoint=url_b, token=token).list_repo_files("alice/kept", revision=head)
            assert "late.bin" in files
            for path in files:
                restored = download(url_b, token, path, head, tmp_path / "b-dl")
                assert restored == download(url_a, token, path, head, tmp_path / "a-dl"), path
