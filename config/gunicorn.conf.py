"""Gunicorn settings for Gatehouse. Threads keep slow downloads from blocking a worker; file
bytes go out through sendfile(2) (gunicorn uses it for FileResponse on plain HTTP). The worker is
gthread with request heads and small bodies read in its event loop (core/gunicorn_worker.py), so
slow clients wait there with a timeout instead of holding a thread."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "core.gunicorn_worker.Worker"
threads = int(os.environ.get("WEB_THREADS", 8))
# Large uploads and downloads stream for minutes; the worker heartbeat is separate from this.
timeout = int(os.environ.get("WEB_TIMEOUT", 600))
graceful_timeout = 30
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") == "1" else None
# gunicorn's default line plus the request id the app answered with (X-Request-Id), as in the app's logs.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
# Signed URLs (`sig=`) are grants: the value is logged as [redacted] (core/logredact.py).
logger_class = "core.logredact.GunicornLogger"
# sendfile(2) is on by default. Do NOT write `sendfile = True` here: gunicorn treats *any* value of
# this setting as the `--no-sendfile` flag (Config.sendfile returns False when it is set), and
# file bodies then go out in 4 KiB write() calls. tests/test_deploy_config.py guards this.
