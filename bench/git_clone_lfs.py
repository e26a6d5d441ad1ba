"""`git clone` with Git LFS of a repo of 3 LFS files (1 GiB in all by default) through Gatehouse,
against native git cloning the same content from disk (`git clone --no-local --bare` of a repo
holding the files as plain git blobs, so both move the same bytes).

Gatehouse's clone is what users run: git fetches the pack of pointers over smart HTTP, then
git-lfs's smudge filter asks the batch API for the objects and downloads them from `/resolve`
(checkout included, as LFS content only arrives with a checkout). Rounds alternate between the
two; the best round of each is compared (native time over Gatehouse time).

Usage: .venv/bin/python bench/git_clone_lfs.py [--mib 1024] [--rounds 2]
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

GOAL = 0.5  # no goal was set for this case; printed against the 20,000-file case's (within 2x)
MIB = 1024 * 1024
FILES = 3


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)  # noqa: S603,S607
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed:\n{done.stderr[-4000:]}")


def timed_clone(args: list[str], target: Path, cwd: Path, env: dict[str, str], sizes: dict[str, int]) -> float:
    """Seconds to clone; `sizes`: files the checkout must hold in full (LFS content, not pointers)."""
    start = time.perf_counter()
    git("clone", "-q", *args, str(target), cwd=cwd, env=env)
    elapsed = time.perf_counter() - start
    for name, size in sizes.items():
        if (target / name).stat().st_size != size:
            raise RuntimeError(f"{name} was not checked out in full: is git-lfs installed?")
    shutil.rmtree(target)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir = harness.scratch_dir("git-clone-lfs")
    env = harness.git_env(workdir)
    try:
        sources = workdir / "src"
        sources.mkdir()
        files = {}
        for index in range(FILES):
            path = harness.make_random_file(sources / f"weights-{index}.bin", args.mib * MIB // FILES)
            files[path.name] = path
        git("lfs", "install", "--skip-repo", cwd=workdir, env=env)
        plain = workdir / "plain"  # the same files as plain git blobs, cloned natively
        plain.mkdir()
        git("init", "-q", "-b", "main", cwd=plain, env=env)
        for path in files.values():
            shutil.copy(path, plain / path.name)
        git("add", "-A", cwd=plain, env=env)
        git("commit", "-q", "-m", "weights", cwd=plain, env=env)
        native = workdir / "native.git"
        git("clone", "-q", "--bare", f"file://{plain}", str(native), cwd=workdir, env=env)
        gatehouse = harness.Gatehouse(workdir)
        info = gatehouse.setup(files)
        times: dict[str, list[float]] = {"gatehouse": [], "native": []}
        with harness.running(gatehouse):
            url = f"{gatehouse.url}/{info['repo_id']}"
            for round_ in range(args.rounds):
                native_args = ["--no-local", "--bare", f"file://{native}"]
                times["native"].append(timed_clone(native_args, workdir / f"n{round_}.git", workdir, env, {}))
                sizes = {name: path.stat().st_size for name, path in files.items()}
                times["gatehouse"].append(timed_clone([url], workdir / f"g{round_}", workdir, env, sizes))
        title = f"git clone of {FILES} files, {args.mib} MiB in all, best of {args.rounds} rounds"
        labels = ("native git (file://, plain blobs)", "gatehouse githttp + git-lfs")
        return harness.report_best_against_native(title, times, labels, GOAL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
