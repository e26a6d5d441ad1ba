"""`git push` of a commit adding many small files: Gatehouse (githttp's receive-pack under
gunicorn, as README.md deploys it) against native git pushing the same commit to a bare repo on
disk over file:// (git's own receive-pack, no HTTP).

Each round makes one commit of `--files` new small files (new content each round) on a new
branch and pushes it to both, native first; the best round of each is compared. The ratio is
native time over Gatehouse time (1.0: as fast as native git).

Usage: .venv/bin/python bench/git_push.py [--files 1000] [--rounds 5]
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

GOAL = 0.1  # no goal was set; printed for the record (within 10x of native git)


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)  # noqa: S603,S607


def timed_push(url: str, ref: str, cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    git("push", "-q", url, f"HEAD:refs/heads/{ref}", cwd=cwd, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = harness.scratch_dir("git-push")
    env = harness.git_env(workdir)
    try:
        seed = workdir / "README.md"
        seed.write_text("# bench\n")
        gatehouse = harness.Gatehouse(workdir)
        info = gatehouse.setup({"README.md": seed})
        native = workdir / "native.git"
        work = workdir / "work"
        times: dict[str, list[float]] = {"gatehouse": [], "native": []}
        with harness.running(gatehouse):
            scheme, rest = gatehouse.url.split("://", 1)
            url = f"{scheme}://bench:{info['token']}@{rest}/{info['repo_id']}"
            git("clone", "-q", url, str(work), cwd=workdir, env=env)
            git("clone", "-q", "--bare", f"file://{work}", str(native), cwd=workdir, env=env)
            for round_ in range(args.rounds):
                git("checkout", "-q", "-B", f"round{round_}", "origin/main", cwd=work, env=env)
                folder = work / f"round{round_}"
                folder.mkdir()
                for index in range(args.files):
                    (folder / f"f{index}.txt").write_text(
                        f"round {round_} file {index}\n" + "some text that compresses a little\n" * (index % 7 + 1)
                    )
                git("add", "-A", cwd=work, env=env)
                git("commit", "-q", "-m", f"round {round_}", cwd=work, env=env)
                times["native"].append(timed_push(f"file://{native}", f"round{round_}", work, env))
                times["gatehouse"].append(timed_push(url, f"round{round_}", work, env))
        title = f"git push of a commit of {args.files} new small files, best of {args.rounds} rounds"
        labels = ("native git (file://, git receive-pack)", "gatehouse githttp receive-pack")
        return harness.report_best_against_native(title, times, labels, GOAL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
