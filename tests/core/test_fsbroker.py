"""The embedded broker never shows a reader a partial file (issue 17).

The race is reproduced deterministically: the writer runs under a line tracer, and before every
line that the transport executes on its behalf, a second connection reads the queue (or the
exchange table) as a worker polling the folder would. kombu's own filesystem transport fails this
probe (the last test shows it, so the probe can fail); core.fsbroker must pass it.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from types import SimpleNamespace

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import filesystem

from core import fsbroker

TRACED_FILES = {filesystem.__file__, fsbroker.__file__}


def fresh_name() -> str:
    """kombu keeps declared bindings per transport class for the whole process: a fresh name per
    test makes each one write its own exchange table in its own folder."""
    return f"jobs{uuid.uuid4().hex}"


def connect(transport: type, root: Path) -> Connection:
    options = {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "control_folder": str(root / "control"),
    }
    (root / "queue").mkdir(exist_ok=True)
    return Connection(transport=transport, transport_options=options)


def interleave(write: Callable[[], None], read: Callable[[], None]) -> int:
    """Run `write`; call `read` before every line the transport modules execute inside it.
    Returns how many times `read` ran (the probe is void if it never ran)."""
    runs = 0

    def local(frame, event, arg):
        nonlocal runs
        if event == "line":
            runs += 1
            read()  # not traced itself: the interpreter suspends tracing inside a trace function
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename in TRACED_FILES else None

    sys.settrace(calls)
    try:
        write()
    finally:
        sys.settrace(None)
    return runs


def probe_messages(transport: type, root: Path) -> tuple[list[object], list[Exception], int]:
    """Publish one message while a second consumer polls; returns (received, errors, reads)."""
    payload = {"task": "preview-reap", "pad": "x" * 100_000}
    received: list[object] = []
    errors: list[Exception] = []
    with connect(transport, root) as producer_conn, connect(transport, root) as consumer_conn:
        name = fresh_name()
        sender = producer_conn.SimpleQueue(name)
        receiver = consumer_conn.SimpleQueue(name)

        def read() -> None:
            if errors:
                return  # kombu's transport: one failure is the finding, and its locks could block
            try:
                message = receiver.get(block=False)
            except Empty:
                return
            except Exception as exc:
                errors.append(exc)
                return
            received.append(message.payload)
            message.ack()

        reads = interleave(lambda: sender.put(payload), read)
        if not errors:
            try:
                message = receiver.get(block=False)
                received.append(message.payload)
                message.ack()
            except Empty:
                pass
    assert all(item == payload for item in received)
    return received, errors, reads


def probe_exchange_table(transport: type, root: Path) -> tuple[list[object], list[Exception], int]:
    """Bind two queues to a fanout exchange while a second connection reads its table."""
    name = fresh_name()
    exchange = Exchange(name, type="fanout")
    tables: list[object] = []
    errors: list[Exception] = []
    with connect(transport, root) as writer_conn, connect(transport, root) as reader_conn:
        reader = reader_conn.channel()

        def read() -> None:
            if errors:
                return
            try:
                tables.append(sorted(q.queue.rpartition("-")[2] for q in reader.get_table(name)))
            except Exception as exc:
                errors.append(exc)

        def bind() -> None:
            channel = writer_conn.channel()
            for queue in ("first", "second"):
                Queue(f"{name}-{queue}", exchange)(channel).declare()

        reads = interleave(bind, read)
        read()
    return tables, errors, reads


def test_consumer_never_reads_a_partial_message(tmp_path):
    received, errors, reads = probe_messages(fsbroker.Transport, tmp_path)

    assert reads > 3
    assert errors == []
    assert len(received) == 1  # delivered once: neither lost nor duplicated
    assert not list((tmp_path / "queue").glob("*.msg"))
    assert not list((tmp_path / "queue" / fsbroker.INCOMING).iterdir())


def test_exchange_table_is_never_seen_half_written(tmp_path):
    tables, errors, reads = probe_exchange_table(fsbroker.Transport, tmp_path)

    assert reads > 3
    assert errors == []
    assert set(map(tuple, tables)) <= {(), ("first",), ("first", "second")}
    assert tables[-1] == ["first", "second"]


def test_unreadable_message_is_set_aside_and_the_next_one_delivered(tmp_path):
    queue = tmp_path / "queue"
    with connect(fsbroker.Transport, tmp_path) as conn:
        name = fresh_name()
        jobs = conn.SimpleQueue(name)
        (queue / f"0_left-by-kombu.{name}.msg").write_bytes(b"")  # the file kombu's transport leaves
        jobs.put({"n": 1})

        message = jobs.get(block=False)

        assert message.payload == {"n": 1}
        message.ack()
        with pytest.raises(Empty):
            jobs.get(block=False)
    assert [p.name for p in (queue / fsbroker.CORRUPT).iterdir()] == [f"0_left-by-kombu.{name}.msg"]


@pytest.mark.parametrize("probe", [probe_messages, probe_exchange_table])
def test_probe_catches_kombus_filesystem_transport(tmp_path, probe):
    """The race of issue 17, as kombu 5.7's transport has it: the probes above can fail."""
    _, errors, _ = probe(filesystem.Transport, tmp_path)

    assert errors, "kombu's filesystem transport no longer shows the race: core.fsbroker may be unneeded"


def test_claims_and_partial_writes_left_by_killed_processes_are_recovered(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    with connect(fsbroker.Transport, tmp_path) as conn:
        name = fresh_name()
        jobs = conn.SimpleQueue(name)
        jobs.put({"n": 7})
        (message_file,) = queue.glob("*.msg")
        (queue / fsbroker.CLAIMED).mkdir()
        claimed = queue / fsbroker.CLAIMED / message_file.name
        message_file.rename(claimed)  # a consumer claimed it and was killed before reading it
        (queue / fsbroker.INCOMING / "dead-producer.tmp").write_bytes(b'{"half":')
        later = time.time() + 2 * fsbroker.ORPHAN_AFTER  # two minutes on
        monkeypatch.setattr(fsbroker, "time", SimpleNamespace(time=lambda: later))

        with connect(fsbroker.Transport, tmp_path) as restarted:
            message = restarted.SimpleQueue(name).get(block=False)

        assert message.payload == {"n": 7}
        message.ack()
    assert not list((queue / fsbroker.INCOMING).iterdir())


def test_a_claim_too_young_at_a_restart_is_recovered_later_by_the_same_consumer(tmp_path, monkeypatch):
    """Found by a review: recovery ran once per channel, so a worker restarted a second after a
    crash left the crashed one's claim stuck until its own next restart."""
    queue = tmp_path / "queue"
    with connect(fsbroker.Transport, tmp_path) as conn:
        name = fresh_name()
        conn.SimpleQueue(name).put({"n": 8})
        (message_file,) = queue.glob("*.msg")
        (queue / fsbroker.CLAIMED).mkdir()
        claimed = queue / fsbroker.CLAIMED / message_file.name
        message_file.rename(claimed)  # claimed by a consumer killed a moment ago

        with connect(fsbroker.Transport, tmp_path) as restarted:
            jobs = restarted.SimpleQueue(name)
            with pytest.raises(jobs.Empty):
                jobs.get(block=False)  # too young to be an orphan yet
            wall = time.time() + 2 * fsbroker.ORPHAN_AFTER
            monkeypatch.setattr(fsbroker, "time", SimpleNamespace(time=lambda: wall))
            later = fsbroker.monotonic() + fsbroker.ORPHAN_AFTER + 1
            monkeypatch.setattr(fsbroker, "monotonic", lambda: later)
            message = jobs.get(block=False)

        assert message.payload == {"n": 8}
        message.ack()


def test_a_message_that_waited_in_the_queue_is_not_taken_for_an_orphan_once_claimed(tmp_path):
    """Found by a review: a claim's age was its modification time, which the claiming rename
    keeps, so a message queued for over a minute was put back by another consumer's recovery
    the moment it was claimed, and delivered twice."""
    queue = tmp_path / "queue"
    with connect(fsbroker.Transport, tmp_path) as conn:
        conn.SimpleQueue(fresh_name()).put({"n": 9})
        (message_file,) = queue.glob("*.msg")
        queued_long_ago = time.time() - 2 * fsbroker.ORPHAN_AFTER
        os.utime(message_file, (queued_long_ago, queued_long_ago))
        (queue / fsbroker.CLAIMED).mkdir()
        claimed = queue / fsbroker.CLAIMED / message_file.name
        message_file.rename(claimed)  # a live consumer claims it, about to read it

        (queue / fsbroker.INCOMING / "in-flight.tmp").write_bytes(b"{")  # a live producer's

        fsbroker.recover(queue, now=time.time())  # another consumer's recovery, meanwhile

        assert claimed.exists() and not list(queue.glob("*.msg"))
        assert (queue / fsbroker.INCOMING / "in-flight.tmp").exists()
