"""Two web hosts, nothing shared but PostgreSQL, Redis and the object store (issue 15).

Each host is a gunicorn as deployed (config/gunicorn.conf.py) with a GATEHOUSE_VAR_DIR and a
storage root of its own, the same SECRET_KEY and the same DATABASE_URL, REDIS_URL and
GATEHOUSE_STORAGE_URL. What one host was asked to do, the other must know:
- the revocation model (README, Security model): on PostgreSQL a revoked or expired hub token,
  the Xet tokens minted from it, a removed or downgraded member, a revoked grant and a disabled
  account stop working on every process within a second, although each keeps per-process caches
  of these lookups (core.lookup_cache);
- stateless web processes: an upload through one host (a regular commit, an LFS multipart upload,
  Xet xorbs and a shard) is downloaded, and decided, through the other.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccessToken
from gating import services as gating_services
from registry import services
from tests.e2e.conftest import worker_database_url
from tests.support.builders import UserFactory, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="caches listen on PostgreSQL only")

SECRET_KEY = "two-hosts-" + "k" * 50
WITHIN = 1.0  # seconds: the revocation bound of the README


@contextmanager
def two_hosts(tmp_path: Path, *, storage_url: str = "", extra: dict[str, str] | None = None):
    """(base URL of host A, base URL of host B), each one gunicorn worker with a disk of its own."""
    from tests.support.gunicorn import deployed_gunicorn

    def env(name: str) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "SECRET_KEY": SECRET_KEY,
            "GATEHOUSE_VAR_DIR": str(tmp_path / name),
            # Local disk only with S3 (scratch); else the test's store, as a shared filesystem.
            "GATEHOUSE_STORAGE_ROOT": str(
                tmp_path / name / "storage" if storage_url else settings.GATEHOUSE_STORAGE_ROOT
            ),
            "GATEHOUSE_STORAGE_URL": storage_url,
            "GATEHOUSE_LOOKUP_CACHE": "true",
            "CELERY_BROKER_URL": "memory://",
            "GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS": "0",
            **(extra or {}),
        }

    with ExitStack() as stack:
        hosts = [stack.enter_context(deployed_gunicorn(log=tmp_path / f"{n}.log", env=env(n), workers=1)) for n in "ab"]
        yield hosts[0], hosts[1]


def _wait_for_listeners(*hosts: str) -> None:
    """Until each host's cache listener pings on the test database (core.lookup_cache); a
    process starts its listener on its first download lookup."""
    count, deadline = len(hosts), time.monotonic() + 30
    with psycopg.connect(worker_database_url().replace("postgres://", "postgresql://"), autocommit=True) as db:
        while True:
            (found,) = db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE %s",
                ["%pg_notify%"],
            ).fetchone()
            if found >= count:
                return
            for host in hosts:
                _head(host, "/owner/open/resolve/main/config.json")
            assert time.monotonic() < deadline, "the hosts' cache listeners did not connect"
            time.sleep(0.05)


def _head(base: str, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.head(f"{base}{path}", headers=headers, timeout=30, allow_redirects=False).status_code


def _refused_within_a_second(ask, change, refused: int) -> None:
    """`ask()` is accepted (twice: the second from the cache), `change()` runs, and from at most
    WITHIN seconds later `ask()` answers `refused`. Polls; sleeps nothing beyond the bound."""
    assert ask() == ask() == 200
    change()
    changed = time.monotonic()
    while (status := ask()) == 200:
        assert time.monotonic() - changed < WITHIN, f"still accepted {WITHIN} s after the change"
        time.sleep(0.01)
    assert status == refused


@on_postgresql  # in `make test` (about 12 s): the two-process representative of the revocation model
def test_revocations_reach_the_other_host_within_a_second(tmp_path):
    owner, bob, carol, dave = (UserFactory(username=name) for name in ("owner", "bob", "carol", "dave"))
    org = account_services.org_create(name="acme", creator=owner)
    account_services.membership_set(org=org, user=bob, role="write")
    private = make_repo(org, "secret", {"config.json": b"{}"}, private=True, author=owner)
    gated = make_repo(owner, "gated", {"config.json": b"{}"})
    gated = services.repo_settings_update(repo=gated, gated="manual", actor=owner)
    gating_services.access_grant(repo=gated, reviewer=owner, user=carol, has_role=False)
    owner_token, bob_token, carol_token, dave_token = (token_for(user) for user in (owner, bob, carol, dave))
    make_repo(owner, "open", {"config.json": b"{}"})
    private_file, gated_file = (
        f"/{private.repo_id}/resolve/main/config.json",
        f"/{gated.repo_id}/resolve/main/config.json",
    )

    with two_hosts(tmp_path) as (a, b):
        _wait_for_listeners(a, b)

        # The caches are in play: a change made without its notification (triggers off, as
        # during `pg_restore --disable-triggers`) goes unseen by host B until it is announced.
        assert _head(b, private_file, bob_token) == _head(b, private_file, bob_token) == 200
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM accounts_membership WHERE user_id = %s", [bob.pk])
            cursor.execute("SET session_replication_role = DEFAULT")
        assert _head(b, private_file, bob_token) == 200  # from host B's cache

        def announce() -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify('gatehouse_repo_changed', %s)", [f"u:{bob.pk}"])

        announce()
        changed = time.monotonic()
        while _head(b, private_file, bob_token) == 200:
            assert time.monotonic() - changed < WITHIN, "the announced change went unheard"
        account_services.membership_set(org=org, user=bob, role="write")  # bob writes again

        # A downgraded member loses push rights; a removed one, read rights (404: private).
        preupload = f"/api/models/{private.repo_id}/preupload/main"

        def push() -> int:
            body = {"files": [{"path": "x.txt", "size": 1, "sample": "eA=="}]}
            headers = {"Authorization": f"Bearer {bob_token}"}
            return requests.post(f"{b}{preupload}", json=body, headers=headers, timeout=30).status_code

        _refused_within_a_second(push, lambda: account_services.membership_set(org=org, user=bob, role="read"), 403)
        ask = lambda: _head(b, private_file, bob_token)  # noqa: E731
        _refused_within_a_second(ask, lambda: account_services.membership_set(org=org, user=bob, role=None), 404)

        # A revoked grant (through host A's API), then a revoked hub token and the Xet token minted from it.
        def revoke_grant() -> None:
            answer = requests.post(
                f"{a}/api/models/{gated.repo_id}/user-access-request/handle",
                json={"user": "carol", "status": "rejected"},
                headers={"Authorization": f"Bearer {owner_token}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text

        _refused_within_a_second(lambda: _head(b, gated_file, carol_token), revoke_grant, 403)
        xet = requests.get(
            f"{a}/api/models/{private.repo_id}/xet-read-token/main",
            headers={"Authorization": f"Bearer {owner_token}"},
            timeout=30,
        ).json()["accessToken"]
        unknown = hashlib.sha256(b"no such file").hexdigest()

        def reconstruction() -> int:
            headers = {"Authorization": f"Bearer {xet}"}
            status = requests.get(f"{b}/cas/v1/reconstructions/{unknown}", headers=headers, timeout=30).status_code
            return 200 if status == 404 else status  # 404: authenticated, and no such file

        def revoke_owner_token() -> None:
            token = AccessToken.objects.get(public_id=owner_token[4:16])
            account_services.token_revoke(user=owner, token_id=token.pk)

        ask = lambda: _head(b, private_file, owner_token)  # noqa: E731
        assert reconstruction() == 200
        _refused_within_a_second(ask, revoke_owner_token, 401)
        assert reconstruction() == 401

        # A disabled account (an operator's change in the admin or the shell).
        def disable() -> None:
            dave.is_active = False
            dave.save(update_fields=["is_active"])

        public_file = "/owner/open/resolve/main/config.json"
        _refused_within_a_second(lambda: _head(b, public_file, dave_token), disable, 401)

        # An expired token: nothing changes in the database, the clock does.
        soon = timezone.now() + timedelta(seconds=2)
        _, expiring = account_services.token_create(user=carol, name="expiring", role="read", expires_at=soon)
        while timezone.now() < soon - timedelta(seconds=0.5):
            assert _head(b, public_file, expiring) == 200
            time.sleep(0.05)
        while timezone.now() < soon:
            time.sleep(0.01)
        expired_at = time.monotonic()
        while (status := _head(b, public_file, expiring)) == 200:
            assert time.monotonic() - expired_at < WITHIN, "an expired token still works"
        assert status == 401


@pytest.mark.slow
def test_uploads_through_one_host_are_downloaded_and_decided_through_the_other(tmp_path, s3_store, monkeypatch):
    """On the S3 backend, with no disk shared: a regular commit, an LFS multipart upload and a Xet
    upload (the default client) through host A; downloads, with and without hf_xet, and the
    access decisions of a private repo through host B."""
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    from tests.conftest import S3_RUN_PREFIX
    from tests.support.seaweedfs import BUCKET

    alice, mallory = UserFactory(username="alice"), UserFactory(username="mallory")
    token, stranger = token_for(alice), token_for(mallory)
    files = {
        "config.json": b'{"hidden_size": 8}',
        "lfs.safetensors": os.urandom(11 * 1024 * 1024),  # multipart: three parts of 5 MiB at most
        "xet.safetensors": os.urandom(3 * 1024 * 1024),
    }
    storage_url = f"s3://{BUCKET}/{S3_RUN_PREFIX}/{uuid.uuid4().hex[:12]}"
    parts = {"GATEHOUSE_LFS_MULTIPART_THRESHOLD": str(6 << 20), "GATEHOUSE_LFS_CHUNK_SIZE": str(5 << 20)}
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with two_hosts(tmp_path, storage_url=storage_url, extra=parts) as (a, b):
        api = HfApi(endpoint=a, token=token)
        api.create_repo("alice/both", private=True)
        api.upload_file(path_or_fileobj=files["config.json"], path_in_repo="config.json", repo_id="alice/both")
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        api.upload_file(path_or_fileobj=files["lfs.safetensors"], path_in_repo="lfs.safetensors", repo_id="alice/both")
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
        api.upload_file(path_or_fileobj=files["xet.safetensors"], path_in_repo="xet.safetensors", repo_id="alice/both")
        assert {
            f.path: bool(f.xet_hash) for f in HfApi(endpoint=b, token=token).get_paths_info("alice/both", list(files))
        } == {"config.json": False, "lfs.safetensors": False, "xet.safetensors": True}

        for without_xet in (False, True):
            monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", without_xet)
            for name, data in files.items():
                cache = tmp_path / f"cache-{without_xet}"
                path = hf_hub_download("alice/both", name, endpoint=b, token=token, cache_dir=cache)
                assert Path(path).read_bytes() == data, name
        for caller in (None, stranger):
            with pytest.raises(RepositoryNotFoundError):
                hf_hub_download(
                    "alice/both", "config.json", endpoint=b, token=caller or False, cache_dir=tmp_path / "x"
                )
        assert not list((tmp_path / "b").rglob("mpu-*"))  # no part folder on either disk: parts went to S3
        assert not list((tmp_path / "a").rglob("mpu-*"))
