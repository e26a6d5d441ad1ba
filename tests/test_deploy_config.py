"""The deployment config README.md tells operators to use really does what it says."""

import os
import subprocess
import sys
from pathlib import Path

from gunicorn.app.base import Application

CONFIG = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"
ROOT_DIR = CONFIG.parent.parent


class _ConfigOnly(Application):
    """Loads config/gunicorn.conf.py the way `gunicorn -c` does, without parsing argv or serving."""

    def load_config(self):
        self.load_config_from_file(str(CONFIG))

    def load(self):
        raise AssertionError("not serving")


def test_gunicorn_config_sends_files_with_sendfile(monkeypatch, tmp_path):
    # gunicorn reads any value of the `sendfile` setting (even True) as --no-sendfile.
    monkeypatch.delenv("SENDFILE", raising=False)
    # The config sets this in os.environ when unset; undone after the test, not left to the next.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    cfg = _ConfigOnly().cfg
    assert cfg.sendfile is True
    assert cfg.worker_class_str == "core.gunicorn_worker.Worker"


PRODUCTION = {
    # What README.md's "Deploying" section has operators set, behind a TLS proxy.
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-for-django-0123456789",
    "ALLOWED_HOSTS": "hub.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://hub.example.org",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    # The test runner's own DJANGO_ALLOW_ASYNC_UNSAFE (Playwright) is no production setting.
    # Nor is a metrics folder another test's gunicorn config left in os.environ.
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(PRODUCTION, GATEHOUSE_VAR_DIR=str(tmp_path), **overrides)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=CONFIG.parent.parent, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_for_the_documented_production_settings(tmp_path):
    result = _check_deploy(tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_while_fault_points_are_armed(tmp_path):
    result = _check_deploy(tmp_path, GATEHOUSE_FAULTPOINTS="commit.in_ref_txn:1")

    assert result.returncode != 0
    assert "gatehouse.E017" in result.stderr


def _key_in(folder: str, start, keys) -> None:
    from config import settings as config

    config.VAR_DIR = Path(folder)
    start.wait()
    keys.put(config._persistent_secret_key())


def test_workers_starting_at_once_agree_on_one_secret_key(tmp_path):
    """Found by CI: gunicorn's workers each made the key of a fresh var/ through one shared `.tmp`
    name, and one failed to boot (the other's rename had taken the file); replacing would also
    have given workers different keys."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    start, keys = context.Event(), context.Queue()
    workers = [context.Process(target=_key_in, args=(str(tmp_path), start, keys)) for _ in range(8)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(30)
    assert [worker.exitcode for worker in workers] == [0] * 8
    found = {keys.get(timeout=5) for _ in workers}
    assert found == {(tmp_path / "secret_key").read_text().strip()}
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no temporary left


SCRAPE = """
import django
django.setup()
from django.test import Client
for path in ("/metrics", "/readyz", "/api/models"):
    print(path, Client().get(path, REMOTE_ADDR="127.0.0.1").status_code)
"""


def test_a_loopback_scrape_of_metrics_is_answered_under_the_production_settings(tmp_path):
    """Found by an outsider: with BEHIND_TLS_PROXY, /metrics asked directly on loopback (the
    documented scrape) was redirected to HTTPS, i.e. to the proxy, which refuses it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(PRODUCTION, GATEHOUSE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    env["ALLOWED_HOSTS"] = "testserver"
    result = subprocess.run([sys.executable, "-c", SCRAPE], cwd=ROOT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    codes = dict(line.split() for line in result.stdout.splitlines())
    assert codes == {"/metrics": "200", "/readyz": codes["/readyz"], "/api/models": "301"}
    assert codes["/readyz"] in ("200", "503")
