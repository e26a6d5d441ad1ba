"""`git clone --bare` of a repo of many small files: Gatehouse (githttp under gunicorn, as
README.md deploys it) against native git cloning the same repo from disk (`--no-local`, so git
packs it as a server would). Goal (issue 18): within 2x for 20,000 files once a pack cache is
warm.

`--bare` because writing a working tree of 20,000 files takes ~14 s here and would hide the
server. Rounds alternate between the two; the best round of each is compared. The first clone
fills githttp's full-clone cache (githttp.packcache); `--cold` turns the cache off.

Usage: .venv/bin/python bench/git_clone.py [--files 1000] [--rounds 5]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR (where the temp dir goes).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

GOAL = 0.5  # Gatehouse's speed as a fraction of native git's (within 2x)


def clone(url: str, target: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--bare", url, str(target)], check=True)  # noqa: S603,S607
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="no pack cache: every clone builds its pack")
    args = parser.parse_args()
    workdir = harness.scratch_dir("git-clone")
    try:
        sources = workdir / "src"
        sources.mkdir()
        files = {}
        for index in range(args.files):
            path = sources / f"f{index}.txt"
            path.write_text(f"file {index}\n" + "some text that compresses a little\n" * (index % 7 + 1))
            files[f"dir{index % 50}/f{index}.txt"] = path
        extra_env = {"GATEHOUSE_GIT_PACK_CACHE_BYTES": "0"} if args.cold else None
        gatehouse = harness.Gatehouse(workdir, extra_env=extra_env)
        info = gatehouse.setup(files)
        native = workdir / "native.git"
        with harness.running(gatehouse):
            url = f"{gatehouse.url}/{info['repo_id']}"
            subprocess.run(["git", "clone", "-q", "--bare", url, str(native)], check=True)  # noqa: S603,S607
            times: dict[str, list[float]] = {"gatehouse": [], "native": []}
            clone(url, workdir / "warm.git")
            for round_ in range(args.rounds):
                times["native"].append(clone(f"file://{native}", workdir / f"n{round_}.git"))
                times["gatehouse"].append(clone(url, workdir / f"g{round_}.git"))
        state = "cold" if args.cold else "pack cache warm"
        title = f"git clone --bare of {args.files} small files ({state}), best of {args.rounds} rounds"
        labels = ("native git (file://, --no-local)", "gatehouse githttp")
        return harness.report_best_against_native(title, times, labels, GOAL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
