"""Memory of a large `git push`: how much a gunicorn worker grows while it receives one.

The push is one commit of `--regular-mib` of random text in regular files (they travel in the
pack, which the server spools to a temporary file and inflates within
GATEHOUSE_GIT_MAX_PUSH_BYTES, 256 MiB by default) plus `--lfs-mib` of LFS files (git-lfs sends
them through the batch API's streamed uploads before the pack), 2 GiB in all by default. A first
small push warms every worker up. The growth is the largest worker's peak RSS (VmHWM) after the
push less its RSS before; the issue's bound is 256 MiB, printed as a ratio (bound over growth).

Usage: .venv/bin/python bench/git_push_memory.py [--regular-mib 192] [--lfs-mib 1856]
Environment: DATABASE_URL (else SQLite in a temp dir), BENCH_TMPDIR (where the temp dir goes).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

MIB = 1024 * 1024
BOUND = 256 * MIB
FILE_MIB = 8  # regular files under the inline file limit (16 MiB)


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)  # noqa: S603,S607
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed:\n{done.stderr[-4000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regular-mib", type=int, default=192)
    parser.add_argument("--lfs-mib", type=int, default=1856)
    args = parser.parse_args()
    workdir = harness.scratch_dir("git-push-memory")
    env = harness.git_env(workdir)
    try:
        seed = workdir / "README.md"
        seed.write_text("# bench\n")
        gatehouse = harness.Gatehouse(workdir)
        info = gatehouse.setup({"README.md": seed})
        work = workdir / "work"
        with harness.running(gatehouse):
            scheme, rest = gatehouse.url.split("://", 1)
            url = f"{scheme}://bench:{info['token']}@{rest}/{info['repo_id']}"
            git("clone", "-q", url, str(work), cwd=workdir, env=env)
            git("lfs", "install", "--local", cwd=work, env=env)
            git("lfs", "track", "*.bin", cwd=work, env=env)
            (work / "warm.txt").write_text("warm up\n")
            git("add", "-A", cwd=work, env=env)
            git("commit", "-q", "-m", "warm up", cwd=work, env=env)
            git("push", "-q", "origin", "HEAD:main", cwd=work, env=env)
            (work / "regular").mkdir()
            for index in range(args.regular_mib // FILE_MIB):
                text = base64.encodebytes(os.urandom(FILE_MIB * MIB * 3 // 4))  # text: binary must go by LFS
                (work / "regular" / f"part{index}.txt").write_bytes(text)
            if args.lfs_mib:
                harness.make_random_file(work / "weights.bin", args.lfs_mib * MIB)
            git("add", "-A", cwd=work, env=env)
            git("commit", "-q", "-m", "large push", cwd=work, env=env)
            before = gatehouse.worker_memory()
            start = time.perf_counter()
            git("push", "-q", "origin", "HEAD:main", cwd=work, env=env)
            seconds = time.perf_counter() - start
            after = gatehouse.worker_memory()
        growth = max(after[pid][1] - before[pid][0] for pid in after if pid in before)
        total = args.regular_mib + args.lfs_mib
        print(f"pushed {total} MiB ({args.regular_mib} MiB in the pack, {args.lfs_mib} MiB by LFS) in {seconds:.1f} s")
        return harness.report(
            "growth of the largest gunicorn worker during the push (peak RSS after less RSS before)",
            [("bound", BOUND / MIB), ("growth", growth / MIB)],
            "MiB",
            BOUND / max(growth, 1),
            1.0,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
