"""What a process does when it is told to stop, before it stops.

A web worker asked to stop (gunicorn's SIGTERM) finishes its requests in flight and may then be
killed by the process manager (scripts/supervise.py: SIGKILL after 7 s). Work that must not be lost
(download counts waiting to be written: registry.services.downloads) registers a callback here
to be *woken* at once. Callbacks run in a signal handler: they may only set an event or a flag.
"""

from __future__ import annotations

from collections.abc import Callable

_callbacks: list[Callable[[], None]] = []


def on_stopping(callback: Callable[[], None]) -> None:
    _callbacks.append(callback)


def stopping() -> None:
    """Called by the server when the process is asked to stop (core.gunicorn_worker)."""
    for callback in list(_callbacks):
        callback()
