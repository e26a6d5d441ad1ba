"""Private PostgreSQL instances for fault tests: never the server the suite uses (issue 17).

`initdb` refuses to run as root, so the cluster belongs to the `postgres` user, in a folder of
its own under /tmp; it listens on a free loopback port and a socket in that folder only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.gunicorn import free_port

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def as_postgres(*command: str) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    return subprocess.run(prefix + list(command), check=True, capture_output=True, text=True)


@dataclass
class PrivatePostgres:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/gatehouse"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: no checkpoint, crash recovery (WAL replay) at the next start."""
        as_postgres(str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")


def available() -> bool:
    return BIN is not None and shutil.which("runuser") is not None


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="gatehouse-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(folder=folder, port=free_port())
    try:
        as_postgres(str(BIN / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        as_postgres(str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "gatehouse")
        yield server
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(BIN / "pg_ctl"),
                "-D",
                str(folder / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
