"""Mails a block of a test sends, through the real path: the outbox row is written in the
block's transaction, published when it commits, and the Celery task (run in-process) renders and
sends it to Django's locmem backend (pytest-django's `mailoutbox`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


def capturing(mailoutbox: list, capture_on_commit: Callable) -> Callable[[], AbstractContextManager[list]]:
    """`with capture() as sent:` lists every mail the block sends. Mails go out after the
    transaction commits, which a test's own transaction never does, and from Celery tasks: the
    block runs its on-commit callbacks on exit and its tasks in-process."""
    from config.celery import app

    @contextmanager
    def capture() -> Iterator[list]:
        sent: list = []
        start, eager = len(mailoutbox), app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with capture_on_commit(execute=True):
                yield sent
        finally:
            app.conf.task_always_eager = eager
        sent.extend(mailoutbox[start:])

    return capture
