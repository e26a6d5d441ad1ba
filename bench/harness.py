"""Shared plumbing for the benchmark scripts: a throwaway Gatehouse behind gunicorn, and nginx.

Why a real server and not the test live server: the speed goals are about Gatehouse *as README.md
tells operators to deploy it* (gunicorn -c config/gunicorn.conf.py, gthread workers, sendfile).
Every run gets its own GATEHOUSE_VAR_DIR (SQLite there, blobs under it) unless DATABASE_URL is
set, in which case that database is migrated and reused (the setup step is idempotent).

Benchmarks print ratios against a baseline measured in the same run, never absolute thresholds:
absolute numbers depend on the machine, ratios much less so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
USERNAME = "benchuser"
REPO_NAME = "bench-model"
MiB = 1024 * 1024


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port: any, or one of BENCH_PORTS ("18160-18169") not handed out yet, where a
    shared machine gives each user a range of its own."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port:
                _HANDED_OUT.add(port)
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port left in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def wait_for_port(port: int, *, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def stop_process(proc: subprocess.Popen | None, sig: int, *, timeout: float) -> None:
    """Ask a server we started to stop; kill it if it does not within `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def print_rounds(times: dict[str, list[float]], size: int) -> None:
    """MB/s (10^6 bytes per second) of every round, per side."""
    for name, values in times.items():
        print(f"  {name:<12} rounds: " + ", ".join(f"{size / 1e6 / t:.0f}" for t in values) + " MB/s")


def scratch_dir(prefix: str) -> Path:
    """A temp folder on the disk that holds the repo (same filesystem for both sides of a ratio)."""
    base = os.environ.get("BENCH_TMPDIR") or None
    return Path(tempfile.mkdtemp(prefix=f"gatehouse-{prefix}-", dir=base))


def make_random_file(path: Path, size: int) -> Path:
    """Incompressible content, written in 8 MiB chunks so memory stays flat."""
    chunk = os.urandom(8 * MiB)
    with open(path, "wb") as handle:
        written = 0
        while written < size:
            part = chunk[: min(len(chunk), size - written)]
            handle.write(part)
            written += len(part)
    return path


_RATE_LIMITS = ("API_PER_IP", "API_PER_TOKEN", "RESOLVERS_PER_IP", "RESOLVERS_PER_TOKEN")


class Gatehouse:
    """A migrated Gatehouse in a temp var dir, served by gunicorn with the production config."""

    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.var_dir = workdir / "var"
        self.port = int(os.environ.get("BENCH_PORT") or 0) or free_port()  # a fixed port if given
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "GATEHOUSE_VAR_DIR": str(self.var_dir),
            "SECRET_KEY": "bench-" + "x" * 50,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "ACCESS_LOG": "0",  # an access log per request would be part of the measured cost
            "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # Closed loops from one address can pass the default rate limits: counted (the cost
            # is part of what is measured), never refused.
            **{f"GATEHOUSE_RATELIMIT_{name}": "1000000000" for name in _RATE_LIMITS},
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def _run(self, *args: str) -> str:
        result = subprocess.run([PYTHON, *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def manage(self, *args: str) -> str:
        return self._run("manage.py", *args)

    def setup(self, files: dict[str, Path] | None = None) -> dict:
        """Migrate, then create user + write token + public repo (and commit `files`) through the
        real services, in a child process so this process never imports Django settings."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v0")
        spec = self.workdir / "setup-files.json"  # a file: 20,000 paths do not fit in argv
        spec.write_text(json.dumps({name: str(path) for name, path in (files or {}).items()}))
        out = self._run(str(Path(__file__)), "--setup", str(spec))
        self.info = json.loads(out.strip().splitlines()[-1])
        return self.info

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "gunicorn.log", "wb"),  # noqa: SIM115 - lives as long as the server
            start_new_session=True,
        )
        wait_for_port(self.port, proc=self.proc)
        # First request imports the URLconf in each worker; do not time that.
        for _ in range(8):
            urllib.request.urlopen(f"{self.url}/healthz", timeout=30).read()  # noqa: S310 - our own http URL

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by gunicorn's workers: on a shared machine this
        per-request cost is steadier than wall-clock rates, which neighbours' load distorts."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        ticks = 0
        for pid in children:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # a worker restarting
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_memory(self) -> dict[int, tuple[int, int]]:
        """Each gunicorn worker's (RSS, peak RSS) in bytes, from /proc (VmRSS, VmHWM)."""
        assert self.proc is not None
        memory = {}
        for pid in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:  # a worker restarting
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            kib = [int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")]
            memory[int(pid)] = (kib[0] * 1024, kib[1] * 1024)
        return memory

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, timeout=30)
        self.proc = None


def git_env(home: Path) -> dict[str, str]:
    """An environment for the benches' git commands: no user or system config, fixed identity."""
    return {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
    }


def _setup_in_django(files: dict[str, str]) -> dict:
    """Runs inside a child process with the server's environment (see Gatehouse.setup)."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from accounts import services as account_services
    from registry import services
    from registry.models import Repo
    from registry.selectors import gitattributes_at

    user, _ = account_services.user_ensure(username=USERNAME, email=f"{USERNAME}@example.org", password="x" * 24)
    _, token = account_services.token_create(user=user, name=f"bench-{time.time_ns()}", role="write")
    # A DATABASE_URL outlives the temp blob store: start from a fresh repo whose blobs exist.
    for stale in Repo.objects.filter(namespace=USERNAME, name=REPO_NAME, repo_type="model"):
        services.repo_purge(repo=stale)
    repo = services.repo_create(namespace=USERNAME, name=REPO_NAME, repo_type="model", private=False, creator=user)
    attributes = gitattributes_at(repo, "main")
    operations = []
    for path, source in files.items():
        with open(source, "rb") as stream:
            size = os.path.getsize(source)
            operations.append(
                services.blob_stage_stream(
                    repo=repo, path=path, stream=stream, size=size, gitattributes=attributes, proof_from=None
                )
            )
    if operations:
        services.commit_create(repo=repo, branch="main", operations=operations, summary="bench files", author=user)
    return {
        "token": token,
        "repo_id": f"{USERNAME}/{REPO_NAME}",
        "sha256": {op.path: op.sha256 for op in operations},
        "storage_root": str(settings.GATEHOUSE_STORAGE_ROOT),
    }


NGINX_HINT = "nginx is not installed: apt-get install -y --no-install-recommends nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        sys.exit(NGINX_HINT)
    return found


class Nginx:
    """nginx with a generated config: one worker per core, sendfile on, no access log."""

    def __init__(self, workdir: Path, *, root: Path, dav_put: bool = False):
        self.workdir = workdir / "nginx"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.dav_put = dav_put
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        tmp = self.workdir / "client_body"
        tmp.mkdir(exist_ok=True)
        put = (
            # Request bodies land in client_body_temp_path (same disk as `root`) and are renamed
            # into place, the same temp-then-rename pattern Gatehouse's blob writer uses.
            f"dav_methods PUT; create_full_put_path on; client_body_temp_path {tmp};"
            " client_max_body_size 0; client_body_buffer_size 1m;"
            if self.dav_put
            else ""
        )
        # Run as root, workers stay root too: the temp dirs are private (0700) to the current user.
        user = "user root;" if os.geteuid() == 0 else ""
        return f"""
{user}
worker_processes auto;
daemon off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    default_type application/octet-stream;
    client_body_temp_path {self.workdir}/client_body;
    proxy_temp_path {self.workdir}/proxy;
    fastcgi_temp_path {self.workdir}/fastcgi;
    uwsgi_temp_path {self.workdir}/uwsgi;
    scgi_temp_path {self.workdir}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location / {{ {put} }}
    }}
}}
"""

    def start(self) -> None:
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(
            [nginx_binary(), "-c", str(conf), "-p", str(self.workdir), "-e", str(self.workdir / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGQUIT, timeout=15)  # SIGQUIT: nginx's graceful shutdown
        self.proc = None


class ThrottledLink:
    """A TCP proxy in front of a server that limits both directions to `mbps` megabits per second
    in total, across all connections: uploads from the client as they would travel over a real
    link, instead of the loopback device's nearly free bandwidth."""

    def __init__(self, target_port: int, mbps: float):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target_port = target_port
        self.bytes_per_second = mbps * 1e6 / 8
        self._busy_until = {"up": 0.0, "down": 0.0}
        self.sent = {"up": 0, "down": 0}  # bytes that crossed the link, per direction
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def _wait_for(self, direction: str, size: int) -> None:
        """Sleep until `size` more bytes would have crossed the link in this direction."""
        with self._lock:
            now = time.monotonic()
            done = max(self._busy_until[direction], now) + size / self.bytes_per_second
            self._busy_until[direction] = done
            self.sent[direction] += size
        if done > now:
            time.sleep(done - now)

    def _pipe(self, source: socket.socket, target: socket.socket, direction: str) -> None:
        try:
            while data := source.recv(64 * 1024):
                self._wait_for(direction, len(data))
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for pair in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=self._pipe, args=pair, daemon=True).start()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()


@contextmanager
def running(*servers):
    """Start servers in order, always stop them in reverse order."""
    started = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield servers
    finally:
        for server in reversed(started):
            server.stop()


def report_best_against_native(title: str, times: dict[str, list[float]], labels: tuple[str, str], goal: float) -> int:
    """Print every round of `times` ("native" and "gatehouse", seconds), then `report` the best
    of each in ms, native time over Gatehouse's as the ratio. `labels`: (native's, Gatehouse's)."""
    for name, values in times.items():
        print(f"{name:10s} " + " ".join(f"{value:.3f}s" for value in values))
    best = {name: min(values) for name, values in times.items()}
    rows = [(labels[0], best["native"] * 1000), (labels[1], best["gatehouse"] * 1000)]
    return report(f"{title}; times in ms", rows, "ms", best["native"] / best["gatehouse"], goal)


def report(title: str, rows: list[tuple[str, float]], unit: str, ratio: float, goal: float) -> int:
    print(f"\n{title}")
    for label, value in rows:
        print(f"  {label:<28} {value:10.1f} {unit}")
    verdict = "PASS" if ratio >= goal else "FAIL"
    print(f"  {'ratio':<28} {ratio:10.3f}   (goal >= {goal}) {verdict}")
    return 0 if ratio >= goal else 1


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--setup":
    print(json.dumps(_setup_in_django(json.loads(Path(sys.argv[2]).read_text()))))
