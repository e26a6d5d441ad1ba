"""Server CPU per anonymous GET on inputs built to be expensive (issue 14: CPU amplification).

Goal: under 2 s of CPU for the first GET of a page, under 200 ms for the GETs after it. Inputs:
a repo page whose README is 1 MiB of `[` (markdown-it's costliest case found: about a minute
before), a README of ordinary Markdown at the render cap, and pull request diffs of two
100,000-line files (36 s before) and of two files at the line cap in difflib's quadratic case.

The views run in this process through Django's test client, so the CPU time of this thread is
the server's. Runs in a throw-away folder with its own SQLite database and the embedded file
cache (REDIS_URL is ignored), as a plain `make run` would:

    .venv/bin/python bench/cpu_per_get.py --later 5

Prints, per input, the first GET's CPU, the median of the later ones and both as a ratio of the
goal; exit status 1 when a ratio is 1 or more.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIRST_GOAL_MS = 2000.0
LATER_GOAL_MS = 200.0


def lines(count: int, *, every: int = 0) -> bytes:
    """`count` distinct 4-character lines (a 100,000-line file fits under the 512 KiB file cap);
    with `every`, every `every`-th line replaced: interleaved matches, difflib's quadratic case."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    rows = [
        digits[i // 36**3 % 36] + digits[i // 36**2 % 36] + digits[i // 36 % 36] + digits[i % 36] for i in range(count)
    ]
    if every:
        rows = ["zzzz" if i % every == 0 else row for i, row in enumerate(rows)]
    return ("\n".join(rows) + "\n").encode()


def _prepare() -> dict[str, str]:
    """Migrate and build the inputs; returns {name: URL}."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    # Static files through the finders, as in tests: the hashed manifest exists only after collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    from accounts.models import User
    from community import services as community_services
    from tests.community.helpers import push
    from tests.support.builders import commit_files, make_repo

    user = User.objects.create_user("bench")
    ordinary = "## Results\n\n| task | score |\n|---|---|\n| a *b* | [c](https://example.org) |\n\n" * 3000
    make_repo(user, "brackets", {"README.md": b"[" * (1024 * 1024 - 1024)})
    make_repo(user, "ordinary", {"README.md": ordinary.encode()[: 256 * 1024]})
    urls = {"README of 1 MiB of '['": "/bench/brackets", "README of 256 KiB of tables": "/bench/ordinary"}
    for name, count in (("long", 100_000), ("at-cap", 10_000)):
        repo = make_repo(user, name)
        commit_files(repo, {"a.txt": lines(count)}, author=user)
        pull = community_services.pull_request_open(repo=repo, author=user, title="change", description="")
        push(repo, pull, {"a.txt": lines(count, every=2)}, author=user)
        urls[f"PR diff, two {count:,}-line files"] = f"/bench/{name}/discussions/{pull.num}/files"
    return urls


def measure(client, url: str, *, later: int) -> tuple[float, float]:
    """CPU milliseconds of the first GET and the median of `later` GETs after it."""
    times = []
    for _ in range(1 + later):
        started = time.thread_time()
        response = client.get(url)
        times.append((time.thread_time() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times[0], statistics.median(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--later", type=int, default=5, help="GETs measured after the first")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gatehouse-bench-cpu-"))
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "GATEHOUSE_VAR_DIR": str(folder / "var"),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "GATEHOUSE_STORAGE_ROOT": str(folder / "storage"),
            "ALLOWED_HOSTS": "testserver,localhost",
        }
    )
    worst = 0.0
    try:
        urls = _prepare()
        from django.test import Client

        for name, url in urls.items():
            first, later = measure(Client(), url, later=args.later)
            ratios = first / FIRST_GOAL_MS, later / LATER_GOAL_MS
            worst = max(worst, *ratios)
            print(
                f"{name:<36} first={first:7.0f} ms ({ratios[0]:.2f} of goal)  "
                f"later={later:6.1f} ms ({ratios[1]:.2f} of goal)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"worst ratio to goal: {worst:.2f}")
    return 1 if worst >= 1 else 0


if __name__ == "__main__":
    sys.exit(main())
