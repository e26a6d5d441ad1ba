"""The embedded Celery broker: kombu's filesystem transport with atomic writes.

kombu's own `filesystem://` transport creates a message file under its final name and only then
writes into it, so a consumer polling the folder can pick up an empty or half-written file; the
worker then dies of `JSONDecodeError` (issue 17: `make run` stopped after 20 minutes when beat
sent `preview-reap`). Its exchange tables (fanout bindings, used by `celery inspect` and the
worker's own broadcast queue) are rewritten in place the same way.

Here every file a reader can see is complete from its first byte: a message is written and
fsynced under a hidden name in `.incoming/` and renamed into the queue folder, and an exchange
table is replaced by rename under a separate lock file. A reader claims a message by renaming
it into `.claimed/` on the same filesystem (exactly one reader wins), never by a copy to /tmp.
A file that still does not parse (left by kombu's transport before an upgrade) is moved to
`.corrupt/` and logged instead of stopping the worker. When a consumer first reads, claims older
than a minute (a consumer killed between claiming and reading) go back to the queue, and files
that a killed producer left in `.incoming/` are removed.

Registered as the `gatehouse-fs://` scheme in config/celery.py; settings map `filesystem://` to it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

INCOMING = ".incoming"
CLAIMED = ".claimed"
CORRUPT = ".corrupt"

Table = list[filesystem.exchange_queue_t]


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file, even after a crash:
    write and fsync a hidden sibling in `.incoming/`, rename it over `path`, fsync the folder."""
    staging = path.parent / INCOMING
    staging.mkdir(exist_ok=True)
    tmp = staging / f"{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


ORPHAN_AFTER = 60.0  # seconds: a claim is read and removed within microseconds; older is a crash


def recover(folder: Path, *, now: float) -> None:
    """Put back messages whose consumer died between claiming and reading them, and remove
    half-written files of producers that died before renaming them into the queue.

    Age is the inode's change time: the claiming rename sets it, and a write does. Not the
    modification time, which a rename keeps: a message that had waited in the queue for a minute
    looked orphaned the moment it was claimed, and another consumer put it back (found by a
    review: delivered twice)."""
    for name, settle in ((CLAIMED, lambda path: os.rename(path, folder / path.name)), (INCOMING, Path.unlink)):
        try:
            entries = list((folder / name).iterdir())
        except FileNotFoundError:
            continue
        for path in entries:
            try:
                if now - path.stat().st_ctime > ORPHAN_AFTER:
                    settle(path)
            except FileNotFoundError:
                continue  # settled by another process meanwhile


class Channel(filesystem.Channel):
    # When this channel last recovered orphaned claims: at its first read, then every ORPHAN_AFTER
    # seconds (a worker restarted a second after a crash finds its claim too young at its start).
    _recovered_at: float | None = None

    # kombu's two base classes name the second argument differently (`message`, `payload`).
    def _put(self, queue: str, payload: dict, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(Path(self.data_folder_out) / name, dumps(payload).encode())
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> dict:
        folder = Path(self.data_folder_in)
        if self._recovered_at is None or monotonic() - self._recovered_at >= ORPHAN_AFTER:
            recover(folder, now=time.time())
            self._recovered_at = monotonic()
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = folder / CLAIMED / name
            claimed.parent.mkdir(exist_ok=True)
            try:
                os.rename(folder / name, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = claimed.read_bytes()
                message = loads(payload)
            except FileNotFoundError:
                continue  # put back by a recovery after a stall past ORPHAN_AFTER: queued again
            except (OSError, ValueError) as exc:
                self._quarantine(claimed, exc)
                continue
            claimed.unlink(missing_ok=True)  # put back by a recovery after a stall past ORPHAN_AFTER
            return message
        raise Empty()

    def _quarantine(self, claimed: Path, exc: Exception) -> None:
        corrupt = claimed.parent.parent / CORRUPT
        corrupt.mkdir(exist_ok=True)
        try:
            os.rename(claimed, corrupt / claimed.name)
        except OSError:
            claimed.unlink(missing_ok=True)
        logger.error("Unreadable broker message %s moved to %s: %s", claimed.name, corrupt, exc)

    def get_table(self, exchange: str) -> Table:
        # Tables are replaced by rename, so a reader needs no lock: it sees the old or the new one.
        try:
            raw = self._exchange_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot open the table of exchange {exchange!r}") from exc
        return [filesystem.exchange_queue_t(*q) for q in json.loads(raw)]

    def _update_table(self, exchange: str, change: Callable[[Table], Table]) -> None:
        """Read-modify-replace an exchange table under a lock file that is never replaced itself
        (a lock held on a file that a rename replaces would not exclude the next writer)."""
        file = self._exchange_file(exchange)
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(file.parent / f"{file.name}.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            table = self.get_table(exchange)
            updated = change(list(table))
            if updated != table:
                write_atomically(file, dumps(updated).encode())

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: table if entry in table else [entry, *table])

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: [q for q in table if q != entry])


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "gatehouse-fs"
    driver_name = "gatehouse-fs"
