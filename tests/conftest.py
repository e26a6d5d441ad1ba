"""Test set-up shared by the whole suite.

The Hub client reads HF_ENDPOINT once, at import, and only trusts URLs on that host; so the live
server's address is fixed here, before any test module imports huggingface_hub.
"""

import os
import shutil
import socket
import tempfile
import uuid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_PORT = _free_port()
os.environ["DJANGO_LIVE_TEST_SERVER_ADDRESS"] = f"127.0.0.1:{_PORT}"
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{_PORT}"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_HUB_DISABLE_UPDATE_CHECK"] = "1"
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="gatehouse-hf-home-"))
os.environ.pop("HF_TOKEN", None)
# Playwright's sync API runs an event loop in the test thread.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.support.builders import *  # noqa: E402,F401,F403 - fixtures

# Live-server threads must not keep database connections open, or the test database cannot be
# dropped at the end of the run.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
# Each download is counted in its request, so tests read the count at once (production tallies
# them and writes every few seconds: tests/registry/test_download_counts.py).
settings.GATEHOUSE_DOWNLOAD_COUNT_FLUSH_SECONDS = 0
# Tests change what /readyz checks and ask again at once (tests/core/test_health.py has the cache's own).
settings.GATEHOUSE_READYZ_CACHE_SECONDS = 0
# Fast password hashing in tests (PBKDF2's deliberate slowness only costs time here).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests serve static files through the finders; the hashed manifest exists only after collectstatic.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(scope="session", autouse=True)
def _isolated_broker():
    """Without Redis, tasks queued by tests go to an in-memory broker, not the developer's var/ queue."""
    from config.celery import app

    if not settings.REDIS_URL:
        app.conf.broker_url = "memory://"
    yield


@pytest.fixture(scope="session", autouse=True)
def _isolated_storage(tmp_path_factory):
    """Blobs written by tests go to a throw-away store, never the developer's var/storage."""
    from registry import storage

    root = tmp_path_factory.mktemp("storage")
    settings.GATEHOUSE_STORAGE_ROOT = root
    storage._storage_for.cache_clear()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A fresh Hub client cache per test, so every download really goes to the server."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def hub(live_server, hf_cache):
    """The live server's base URL; the client is configured for it through HF_ENDPOINT."""
    assert live_server.url == os.environ["HF_ENDPOINT"], "the live server must listen where HF_ENDPOINT points"
    return live_server.url


@pytest.fixture(autouse=True)
def fresh_xet_client(tmp_path, monkeypatch):
    """A fresh hf_xet session and chunk cache per test. Each test starts with an empty database,
    and a client that remembers chunks from an earlier test would (rightly) not send them again:
    the server then refuses the shard naming them (the same bytes in two tests' uploads)."""
    from huggingface_hub.utils import _xet

    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet-cache"))
    _xet._GLOBAL_XET_HOLDER._session = None
    yield
    _xet._GLOBAL_XET_HOLDER._session = None


@pytest.fixture(autouse=True)
def _fresh_xet_hash_cache():
    """`content.xet_hash_cached` keeps sha256 -> Xet hash for the life of the process, and every
    test starts from an empty database: one test's Xet upload of some bytes must not make another
    test's plain copy of the same bytes look Xet-stored (its reconstruction would then be a 404)."""
    from registry.storage import content

    content._XET_HASHES.clear()


@pytest.fixture(autouse=True)
def _no_lookup_cache(settings):
    """The download lookup cache learns of changes when transactions commit, and most tests roll
    theirs back: it is off unless a test turns it on (tests/gating/test_lookup_cache.py)."""
    settings.GATEHOUSE_LOOKUP_CACHE = False


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory):
    """A real S3-compatible store (SeaweedFS, started once per run and only when a test asks for it),
    with one bucket; the standard AWS variables point at it for the rest of the run."""
    from tests.support.seaweedfs import BUCKET, seaweedfs

    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), bucket=BUCKET) as store:
        saved = {name: os.environ.get(name) for name in store.environ()}
        os.environ.update(store.environ())
        try:
            yield store
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def s3_backend(settings, s3_store):
    """Gatehouse on the S3 backend for one test: blobs, Xet and previews under a prefix of its own
    in the test bucket (the garbage collector of one test must not see another's objects)."""
    from registry.storage import content, reset_storage_caches
    from tests.support.seaweedfs import BUCKET

    settings.GATEHOUSE_STORAGE_URL = f"s3://{BUCKET}/{S3_RUN_PREFIX}/{uuid.uuid4().hex[:12]}"
    reset_storage_caches()
    content._STORED.clear()
    yield s3_store
    settings.GATEHOUSE_STORAGE_URL = ""
    reset_storage_caches()
    content._STORED.clear()


S3_RUN_PREFIX = f"run-{os.getpid()}"


def pytest_generate_tests(metafunc):
    """Tests marked `s3` run twice: on the local backend and on the S3 backend (SeaweedFS)."""
    if metafunc.definition.get_closest_marker("s3"):
        metafunc.parametrize("_storage_backend", ["local", "s3"], indirect=True)


@pytest.fixture(autouse=True)
def _storage_backend(request):
    if getattr(request, "param", "local") == "s3":
        request.getfixturevalue("s3_backend")
