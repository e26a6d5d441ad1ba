"""Races on purpose: the same call from several threads released at once."""

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(function: Callable[[], object], times: int = 2) -> list:
    """Call `function` from `times` threads that wait for each other first; their results. Each
    thread uses (and closes) its own database connection, as separate workers would."""
    barrier = threading.Barrier(times, timeout=10)
    results: list = []

    def call():
        try:
            barrier.wait()
            results.append(function())
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
