"""Run the processes of a Procfile and keep them running: `make run`'s process manager.

Why not honcho (what `make run` used before): it stops everything when any one process exits, so
a crashed Celery worker took the web tier down with it, and it signals only the processes it
started, so a worker's children could outlive it. supervisord and circus were weighed: both
can restart, but supervisord wants a daemon, a config file and a control socket for what is here
a foreground command, and circus pulls in ZeroMQ; neither can adopt the orphans of a child that
died. This script is stdlib-only and guarantees, on Linux:

- every entry runs in its own session and process group; when its leader exits, whatever is left
  of the group (a worker's pool and beat children) is stopped before the entry is started again;
- an entry that exits is restarted, with a back-off that doubles from 1 s to 30 s while it keeps
  failing within `STARTSECS`; one that fails `STARTRETRIES` times in a row at its very first start
  (a bad setting) stops everything with exit status 1, as honcho did;
- an entry that exits with status 75 (EX_TEMPFAIL: something it needs is held for now; gunicorn's
  config exits so when its port is still bound, most often by the previous run's server draining
  its last requests) is started again with a back-off from 0.5 s to 8 s, without counting a
  failure, for up to `TEMPFAIL_WAIT` seconds in a row; then everything stops with exit status 1;
- SIGINT, SIGTERM or SIGHUP stop everything: SIGTERM to every leader, SIGKILL to every group still
  there after `STOP_TIMEOUT` seconds; the script returns only when every group is empty, in 10 s;
- the script is a child subreaper, so orphans of its children are re-parented to it (and reaped)
  instead of escaping to init, and each leader gets SIGTERM if the script itself is killed.

Children share the terminal's stdout and stderr. Variables from `.env` are added to the
environment unless already set.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTSECS = 10.0
STARTRETRIES = 3
BACKOFF_MAX = 30.0
EX_TEMPFAIL = 75
TEMPFAIL_WAIT = float(os.environ.get("SUPERVISE_TEMPFAIL_WAIT", 60))  # the environment: for tests
TEMPFAIL_BACKOFF_MAX = 8.0
STOP_TIMEOUT = 7.0  # then SIGKILL: everything is gone within 10 s of Ctrl-C
LEFTOVER_TIMEOUT = 2.0  # for what is left of a group whose leader exited
POLL = 0.2
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervise | {message}", file=sys.stderr, flush=True)


def read_procfile(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and key and not key.startswith("#"):
                parsed = shlex.split(value, comments=True)
                values[key.strip()] = parsed[0] if parsed else ""
    return values


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Entry:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    has_run: bool = False  # stayed up for STARTSECS at least once
    failures: int = 0  # consecutive exits within STARTSECS
    held_since: float | None = None  # first of the EX_TEMPFAIL exits in a row
    held_tries: int = 0
    restart_at: float = 0.0
    groups: set[int] = field(default_factory=set)  # process groups to empty before exiting

    def start(self, env: dict[str, str]) -> None:
        # A simple command (`VAR=1 program args`) is exec'd by way of env(1), so that the program
        # itself leads the group and gets the parent-death signal, not a shell waiting for it.
        line = self.command if re.search(r"[;&|()`<>]", self.command) else f"exec env {self.command}"
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", line], env=env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.groups.add(self.process.pid)
        self.started_at = time.monotonic()
        log(f"{self.name} started (pid {self.process.pid}): {self.command}")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def reap() -> list[tuple[int, int]]:
    """Collect every exited child, ours or adopted; returns (pid, returncode) pairs."""
    exited: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return exited
        if pid == 0:
            return exited
        exited.append((pid, os.waitstatus_to_exitcode(status)))


def empty_groups(groups: set[int], leaders: set[int], deadline: float) -> dict[int, int]:
    """SIGTERM each running leader (it stops its own children, as gunicorn and Celery do) or, where
    the leader is gone, its whole group; SIGKILL every group still there at `deadline`; return
    once all are empty, with every exit reaped meanwhile (pid -> status), of these groups or not."""
    reaped: dict[int, int] = {}
    for pgid in groups:
        if pgid in leaders:
            try:
                os.kill(pgid, signal.SIGTERM)
            except ProcessLookupError:
                signal_group(pgid, signal.SIGTERM)
        else:
            signal_group(pgid, signal.SIGTERM)
    killed = False
    while any(group_alive(pgid) for pgid in groups):
        if not killed and time.monotonic() >= deadline:
            for pgid in groups:
                if group_alive(pgid):
                    log(f"process group {pgid} still running after SIGTERM: SIGKILL")
                    signal_group(pgid, signal.SIGKILL)
            killed = True
        reaped.update(reap())
        time.sleep(0.05)
    reaped.update(reap())
    return reaped


class Supervisor:
    def __init__(self, entries: dict[str, str], env: dict[str, str]) -> None:
        self.entries = [Entry(name, command) for name, command in entries.items()]
        self.env = env
        self.stopping: int | None = None
        # Exits reaped but not handled yet: emptying one entry's group reaps whatever else exits
        # meanwhile, and an exit dropped there would never be restarted.
        self.exited: dict[int, int] = {}

    def request_stop(self, signum: int, frame: object) -> None:
        if self.stopping is None:
            self.stopping = signum

    def run(self) -> int:
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self.request_stop)
        for entry in self.entries:
            entry.start(self.env)
        status = 0
        while self.stopping is None:
            self.exited.update(reap())
            now = time.monotonic()
            for entry in self.entries:
                if entry.process is not None and entry.process.pid in self.exited:
                    if not self.handle_exit(entry, self.exited.pop(entry.process.pid), now):
                        status = 1
                        self.stopping = signal.SIGTERM
                elif entry.process is None and now >= entry.restart_at:
                    entry.start(self.env)
            running = {entry.process.pid for entry in self.entries if entry.process is not None}
            self.exited = {pid: code for pid, code in self.exited.items() if pid in running}  # others: orphans
            time.sleep(POLL)
        log(f"stopping ({signal.Signals(self.stopping).name})")
        groups = {pgid for entry in self.entries for pgid in entry.groups}
        leaders = {entry.process.pid for entry in self.entries if entry.process is not None}
        empty_groups(groups, leaders, time.monotonic() + STOP_TIMEOUT)
        log("stopped")
        return status

    def schedule_held(self, entry: Entry) -> bool:
        """An EX_TEMPFAIL exit: start again after a back-off, unless held for TEMPFAIL_WAIT already."""
        now = time.monotonic()
        if entry.held_since is None:
            entry.held_since = now
        waited = now - entry.held_since
        if waited >= TEMPFAIL_WAIT:
            log(
                f"{entry.name}: what it needs (its port?) is still held after {waited:.0f} s and "
                f"{entry.held_tries + 1} tries: giving up (find the process holding it: ss -ltnp)"
            )
            return False
        delay = min(TEMPFAIL_BACKOFF_MAX, 0.5 * 2.0**entry.held_tries, TEMPFAIL_WAIT - waited)
        entry.held_tries += 1
        entry.restart_at = now + delay
        log(
            f"{entry.name}: what it needs (its port?) is held for now, not a crash: "
            f"trying again in {delay:.1f} s (waited {waited:.0f} of {TEMPFAIL_WAIT:.0f} s)"
        )
        return True

    def handle_exit(self, entry: Entry, code: int, now: float) -> bool:
        """Schedule a restart; False when the entry keeps failing before it ever ran."""
        assert entry.process is not None
        pgid = entry.process.pid
        entry.process.returncode = code
        entry.process = None
        held = code == EX_TEMPFAIL
        if not held:
            entry.held_since, entry.held_tries = None, 0
        if now - entry.started_at >= STARTSECS:
            entry.has_run, entry.failures = True, 0
        elif not held:
            entry.failures += 1
        log(f"{entry.name} exited with status {code}; stopping what is left of its process group")
        self.exited.update(empty_groups({pgid}, set(), time.monotonic() + LEFTOVER_TIMEOUT))
        entry.groups.discard(pgid)
        if held:
            return self.schedule_held(entry)
        if not entry.has_run and entry.failures >= STARTRETRIES:
            log(f"{entry.name} failed {entry.failures} times at start: giving up")
            return False
        delay = min(BACKOFF_MAX, 2.0 ** max(0, entry.failures - 1)) if entry.failures else 1.0
        entry.restart_at = time.monotonic() + delay
        log(f"{entry.name} restarts in {delay:.0f} s")
        return True


def main(argv: list[str]) -> int:
    procfile = Path(argv[1] if len(argv) > 1 else "Procfile")
    env = {**read_dotenv(procfile.parent / ".env"), **os.environ}
    return Supervisor(read_procfile(procfile), env).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
