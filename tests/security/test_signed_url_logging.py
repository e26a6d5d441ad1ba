"""Signed URLs (`sig=`) are redacted in every log that prints request lines.

The attack: a Xet fetch URL (`/cas/fetch/{xorb}?r=&exp=&sig=`) or an LFS upload URL
(`/lfs/objects/{oid}?sig=`) authorizes whoever holds it until it expires. gunicorn's access log
printed it whole, so anyone who could read the logs could replay it.
"""

import io
import logging
import os
import runpy
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from core.logredact import GunicornLogger, redact_signatures
from tests.support.gunicorn import ROOT, free_port

SECRET = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"
XORB = "ab" * 32


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback test server
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_gunicorn_access_log_redacts_signatures(tmp_path):
    """The deployed configuration (config/gunicorn.conf.py), a real request, the log as written."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "PORT": str(port), "WEB_WORKERS": "1", "WEB_THREADS": "2", "ACCESS_LOG": "1"}
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        base = f"http://127.0.0.1:{port}"
        while _get_or_none(f"{base}/healthz") is None:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert _get(f"{base}/cas/fetch/{XORB}?r=0-9&exp=1&sig={SECRET}") == 403
        assert _get(f"{base}/lfs/objects/{XORB}?sig={SECRET}&x=1") in (400, 403, 404, 405)
        time.sleep(0.5)  # the access log is written after the response
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert f"/cas/fetch/{XORB}?r=0-9&exp=1&sig=[redacted]" in text
    assert f"/lfs/objects/{XORB}?sig=[redacted]&x=1" in text
    assert SECRET not in text


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None


def _configured_handler(name: str) -> logging.StreamHandler:
    """The handler settings.LOGGING gave the logger (pytest adds capture handlers of its own)."""
    found = [h for h in logging.getLogger(name).handlers if type(h) is logging.StreamHandler]
    assert len(found) == 1, logging.getLogger(name).handlers
    return found[0]


def test_django_loggers_redact_signatures():
    """Django's request-line logger (runserver) and anything reaching the root handler, through
    the handlers settings.LOGGING configured (their streams swapped for buffers)."""
    handlers = [_configured_handler("django.server"), _configured_handler("")]
    buffers = [io.StringIO(), io.StringIO()]
    previous = [handler.setStream(buffer) for handler, buffer in zip(handlers, buffers, strict=True)]
    try:
        logging.getLogger("django.server").info('"%s" %s %s', f"GET /cas/fetch/{XORB}?sig={SECRET} HTTP/1.1", 403, 1)
        logging.getLogger("registry.views.download").warning("refused %s", f"/lfs/objects/{XORB}?x=1&sig={SECRET}")
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)
    server, root = (buffer.getvalue() for buffer in buffers)
    assert f"/cas/fetch/{XORB}?sig=[redacted]" in server
    assert f"/lfs/objects/{XORB}?x=1&sig=[redacted]" in root
    assert SECRET not in server + root


@pytest.mark.parametrize(
    "text, expected",
    [
        ("GET /a?sig=S HTTP/1.1", "GET /a?sig=[redacted] HTTP/1.1"),
        ("/a?r=1&sig=S&exp=2", "/a?r=1&sig=[redacted]&exp=2"),
        ("next=%2Fa%3Fsig%3DS", "next=%2Fa%3Fsig%3D[redacted]"),
        ("/a?design=x&signal=1", "/a?design=x&signal=1"),
        ("GET /password-reset/Mg/cz4-abc123 HTTP/1.1", "GET /password-reset/Mg/[redacted] HTTP/1.1"),
        ("GET /password-reset/sent HTTP/1.1", "GET /password-reset/sent HTTP/1.1"),
        ("POST /verify-email/eyJ0:1x:abc", "POST /verify-email/[redacted]"),
        ("GET /organizations/invitations/MQ:1x:y HTTP/1.1", "GET /organizations/invitations/[redacted] HTTP/1.1"),
        ("GET /signup?invite=s3cret&x=1", "GET /signup?invite=[redacted]&x=1"),
    ],
)
def test_redaction_rule(text, expected):
    assert redact_signatures(text) == expected


def test_gunicorn_config_names_the_redacting_logger():
    from gunicorn.config import Config

    config = Config()
    config.set("logger_class", "core.logredact.GunicornLogger")
    namespace = runpy.run_path(str(ROOT / "config/gunicorn.conf.py"))
    assert namespace["logger_class"] == "core.logredact.GunicornLogger"
    assert config.logger_class is GunicornLogger
