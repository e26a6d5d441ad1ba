"""Time migrations on a big database: each one unapplied and applied again, in one process.

    DATABASE_URL=postgres://.../copy_of_scale .venv/bin/python scripts/time_migrations.py \\
        registry.0013_repo_deleted_at gating.0006_access_request_requested_by_user ...

For each migration: everything is first brought to the latest state (not timed), then the
migration is unapplied (with whatever depends on it, timed as "backwards"), then applied alone
(timed as "forwards": the figure the README states). Only the database work is timed: Django's
start and the migration graph are loaded once. Run it on a copy of the data (it rewrites tables).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(names: list[str]) -> None:
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
        started = time.monotonic()
        forwards = executor()
        forwards.migrate([(app, name)])
        print(f"{label:<55} {back_s:9.2f}s {time.monotonic() - started:9.2f}s", flush=True)
    final = executor()
    final.migrate(final.loader.graph.leaf_nodes())


if __name__ == "__main__":
    main(sys.argv[1:])
