"""Gunicorn settings for Gatehouse. Threads keep slow downloads from blocking a worker; file
bytes go out through sendfile(2) (gunicorn uses it for FileResponse on plain HTTP). The worker is
gthread with request heads and small bodies read in its event loop (core/gunicorn_worker.py), so
slow clients wait there with a timeout instead of holding a thread."""

import errno
import multiprocessing
import os
import socket
import sys
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "core.gunicorn_worker.Worker"
threads = int(os.environ.get("WEB_THREADS", 8))
# Large uploads and downloads stream for minutes; the worker heartbeat is separate from this.
timeout = int(os.environ.get("WEB_TIMEOUT", 600))
# Seconds a stopping server lets requests in flight finish (make run: 5, inside its 7 s stop budget,
# so a supervisor killed outright leaves no server holding the port for long).
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", 30))
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") == "1" else None
# gunicorn's default line plus the request id the app answered with (X-Request-Id), as in the app's logs.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
# Signed URLs (`sig=`) are grants: the value is logged as [redacted] (core/logredact.py).
logger_class = "core.logredact.GunicornLogger"
# sendfile(2) is on by default. Do NOT write `sendfile = True` here: gunicorn treats *any* value of
# this setting as the `--no-sendfile` flag (Config.sendfile returns False when it is set), and
# file bodies then go out in 4 KiB write() calls. tests/test_deploy_config.py guards this.


def worker_exit(server, worker):
    """A worker leaving cleanly (stopped, recycled, timed out) writes the download counts it holds
    (registry.services.downloads); only a worker killed outright loses its last few seconds' worth."""
    from django.conf import settings

    if not settings.configured:
        return
    from registry.services.downloads import repo_downloads_flush

    try:
        repo_downloads_flush()
    except Exception:
        server.log.exception("Download counts of worker %s not written", worker.pid)


# Prometheus metrics from every worker (core/metrics.py): each writes its samples to files in this
# folder and /metrics adds them up. Set before any worker imports prometheus_client; emptied at
# start, so counters begin at zero with the server (Prometheus handles the reset).
_var_dir = Path(os.environ.get("GATEHOUSE_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var_dir / "metrics"))


# Exit status for "a resource is held for now, start me again later" (sysexits.h EX_TEMPFAIL).
# scripts/supervise.py retries it with back-off for a bounded time instead of counting a failure.
EX_TEMPFAIL = 75


def _address_in_use(address) -> bool:
    """Whether a TCP `address` (host, port) cannot be bound now, tried the way gunicorn binds."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def on_starting(server):
    # A port still held (most often by the previous run's server, draining its last requests):
    # gunicorn would try for 5 s, then exit with status 1, as for any broken start. Say so and exit
    # with EX_TEMPFAIL instead, so that a process manager waits and retries. Sockets handed over
    # (systemd, a re-exec) or shared with SO_REUSEPORT are not probed.
    inherited = server.LISTENERS or os.environ.get("LISTEN_FDS") or os.environ.get("GUNICORN_FD")
    if not inherited and not server.cfg.reuse_port:
        for address in server.cfg.address:
            if isinstance(address, tuple) and _address_in_use(address):
                server.log.error("Address %s:%s is in use (a previous server still stopping?)", *address[:2])
                sys.exit(EX_TEMPFAIL)
    # Two malloc arenas a process, not glibc's 8 per core: with 8 threads a worker, the arenas kept
    # what their requests freed and grew each worker by 60-100 MiB over the soak (core/malloc.py).
    # Set in the master, before it forks, so every worker inherits it; MALLOC_ARENA_MAX overrides it.
    from core import malloc

    malloc.limit_arenas(2)
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# gunicorn 25's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), shared
# by every hub on the host: off (the supervisor and signals manage the server).
control_socket_disable = True


def post_fork(server, worker):
    # bench/memprobe.py (the soak's memory figures, issue 17): armed only by its variable.
    if os.environ.get("GATEHOUSE_MEMPROBE_DIR"):
        from bench import memprobe

        memprobe.start(worker.age)
