"""Memory of one repo info answer listing every file with its metadata (`model_info(...,
files_metadata=True)`, i.e. `GET /api/models/{repo}?blobs=true`) on the 50,000-file repo of the
data-at-scale set (issue 17).

    DATABASE_URL=postgres://.../gh_scale .venv/bin/python bench/repo_info_memory.py [--baseline DIR]

The database is filled by scripts/gen_scale_data.py first (`scale-owner/big-files`). Each
measurement runs in a fresh process: Django is set up, the repo's trees are read once (the tree
cache is bounded on its own, `GATEHOUSE_TREE_CACHE_BYTES`, and is the same either way), then the
peak RSS is reset (`/proc/self/clear_refs`) and the request goes through the whole middleware stack
(django.test.Client); the body is read chunk by chunk as a server would send it. What is printed is
the peak RSS above the process's RSS before the request. `--baseline DIR` measures another checkout
(e.g. one at the commit before the change) in the same way and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO = "scale-owner/big-files"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def measure() -> None:
    """In the child: one request, printed as JSON."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from registry.git import trees
    from registry.models import Repo
    from registry.selectors import resolve_revision

    setup_test_environment()
    repo = Repo.objects.get(namespace=REPO.split("/")[0], name=REPO.split("/")[1])
    files = sum(1 for _ in trees.iter_files(resolve_revision(repo, repo.default_branch).tree_oid))
    client = Client()
    client.get(f"/api/models/{REPO}/revision/does-not-exist")  # first-request imports, outside the figure
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    response = client.get(f"/api/models/{REPO}?blobs=true")
    size = 0
    if response.streaming:
        for chunk in response.streaming_content:
            size += len(chunk)
    else:
        size = len(response.content)
    peak = _status_kib("VmHWM")
    assert response.status_code == 200, response.status_code
    print(json.dumps({"files": files, "bytes": size, "streaming": response.streaming, "growth_kib": peak - before}))


def run(code: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to measure the same way")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, os.getcwd())
        measure()
        return
    results = {}
    for label, code in (("this checkout", ROOT), ("baseline", args.baseline)):
        if code is None:
            continue
        rounds = [run(code) for _ in range(args.rounds)]
        best = min(rounds, key=lambda r: r["growth_kib"])
        results[label] = best
        each = ", ".join(f"{r['growth_kib'] / 1024:.1f}" for r in rounds)
        print(
            f"{label:<14} {best['files']:,} files, {best['bytes'] / 2**20:.1f} MiB body, "
            f"streamed: {best['streaming']}, peak RSS growth {best['growth_kib'] / 1024:.1f} MiB (rounds: {each})"
        )
    if "baseline" in results:
        ratio = results["this checkout"]["growth_kib"] / max(results["baseline"]["growth_kib"], 1)
        print(f"ratio this/baseline: {ratio:.3f}")


if __name__ == "__main__":
    main()
