"""Time migrations on a big database: each one unapplied and applied again, in one process.

    DATABASE_URL=postgres://.../copy_of_scale .venv/bin/python scripts/time_migrations.py \\
        [--probe registry_repo] registry.0013_repo_deleted_at gating.0006_access_request_requested_by_user ...

For each migration: everything is first brought to the latest state (not timed), then the
migration is unapplied (with whatever depends on it, timed as "backwards"), then applied alone
(timed as "forwards": the figure the README states). Only the database work is timed: Django's
start and the migration graph are loaded once. Run it on a copy of the data (it rewrites tables).

`--probe TABLE` (repeatable): while the migration is applied, a thread on its own connection
reads one random row of TABLE by primary key every 50 ms, and writes one (an UPDATE that sets
the key to itself: it takes the row lock and the table's write lock as any write does); the
worst wait of each is printed beside the runtime: what a request touching that table would
have waited, the figure the README's "Downtime" column states.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE_INTERVAL_S = 0.05


class Probe(threading.Thread):
    """Reads and writes one random row of `table` every 50 ms until stopped; keeps the worst
    wait of each kind and the count of each."""

    def __init__(self, table: str) -> None:
        super().__init__(daemon=True)
        self.table = table
        self.stopping = threading.Event()
        self.worst = {"read": 0.0, "write": 0.0}
        self.counts = {"read": 0, "write": 0}
        self.errors: list[str] = []

    def run(self) -> None:
        from django.db import connections

        connection = connections["default"]  # this thread's own connection
        table = connection.ops.quote_name(self.table)  # a name from the command line, quoted
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT min(id), max(id) FROM {table}")  # noqa: S608
            low, high = cursor.fetchone()
        statements = {
            "read": f"SELECT * FROM {table} WHERE id = %s",  # noqa: S608
            "write": f"UPDATE {table} SET id = id WHERE id = %s",  # noqa: S608
        }
        try:
            while not self.stopping.is_set():
                began = time.monotonic()
                for kind, sql in statements.items():
                    started = time.monotonic()
                    try:
                        with connection.cursor() as cursor:
                            cursor.execute(sql, [random.randint(low, high)])
                            if kind == "read":
                                cursor.fetchall()
                    except Exception as error:  # noqa: BLE001 - reported, the probe goes on
                        self.errors.append(f"{kind}: {error}")
                    self.worst[kind] = max(self.worst[kind], time.monotonic() - started)
                    self.counts[kind] += 1
                self.stopping.wait(max(0.0, PROBE_INTERVAL_S - (time.monotonic() - began)))
        finally:
            connection.close()

    def report(self) -> str:
        line = ", ".join(
            f"worst {kind} of {self.table} {self.worst[kind] * 1000:.0f} ms ({self.counts[kind]})"
            for kind in self.worst
        )
        return line + (f"; {len(self.errors)} errors, the first: {self.errors[0]}" if self.errors else "")


def main(names: list[str], probe_tables: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def executor() -> MigrationExecutor:
        return MigrationExecutor(connection)

    print(f"{'migration':<55} {'backwards':>10} {'forwards':>10}")
    for label in names:
        app, name = label.split(".", 1)
        latest = executor()
        latest.migrate(latest.loader.graph.leaf_nodes())
        graph = executor().loader.graph
        parents = [parent for parent in graph.node_map[(app, name)].parents if parent[0] == app]
        target = parents[0] if parents else (app, None)
        started = time.monotonic()
        backwards = executor()
        backwards.migrate([target])
        back_s = time.monotonic() - started
        forwards = executor()
        probes = [Probe(table) for table in probe_tables]
        for probe in probes:
            probe.start()
        time.sleep(2 * PROBE_INTERVAL_S)  # each probe connected and past its first round
        started = time.monotonic()
        forwards.migrate([(app, name)])
        forward_s = time.monotonic() - started
        for probe in probes:
            probe.stopping.set()
            probe.join()
        print(f"{label:<55} {back_s:9.2f}s {forward_s:9.2f}s", flush=True)
        for probe in probes:
            print(f"    {probe.report()}", flush=True)
    final = executor()
    final.migrate(final.loader.graph.leaf_nodes())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("migrations", nargs="+", help="app.migration_name")
    parser.add_argument("--probe", action="append", default=[], metavar="TABLE", help="read and write it every 50 ms")
    arguments = parser.parse_args()
    main(arguments.migrations, arguments.probe)
