"""First download of a large upstream file through the mirror vs straight from the upstream.

Two Gatehouses on loopback: the upstream (a public repo holding a random file of --size-mb) behind
a throttled link (`--link-mbps`, harness.ThrottledLink, as bench/xet_vs_lfs.py does; 0: loopback),
and the mirror, configured with the upstream's namespace (GATEHOUSE_UPSTREAMS) through that link.
The same client (huggingface_hub's hf_hub_download, in a child process that times the call only)
downloads the file straight from the upstream through the link, then through the mirror (its
first download: fetched, hashed and stored while it streams), then through the mirror again (from
its store), against the upstream on loopback (a local repo's download on a Gatehouse).

Goals: first download through the mirror >= 0.9 of the direct rate (it streams while caching); the
second within noise of a local repo's (reported, not judged).

Usage: BENCH_PORTS=18500-18520 .venv/bin/python bench/mirror_first_download.py [--size-mb 1024] [--link-mbps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

GOAL = 0.9
FILENAME = "big.safetensors"

DOWNLOAD = """
import sys, time
from huggingface_hub import hf_hub_download
start = time.perf_counter()
hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])
print(time.perf_counter() - start)
"""


def timed_download(endpoint: str, repo_id: str, cache_dir: Path) -> float:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_TOKEN", None)
    result = subprocess.run(
        [harness.PYTHON, "-c", DOWNLOAD, repo_id, FILENAME, str(cache_dir)],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"download from {endpoint} failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--link-mbps", type=float, default=200, help="the upstream's link (0: loopback)")
    args = parser.parse_args()
    size = args.size_mb * harness.MiB
    workdir = harness.scratch_dir("mirror")
    try:
        upstream = harness.Gatehouse(workdir / "upstream")
        source = harness.make_random_file(workdir / FILENAME, size)
        info = upstream.setup({FILENAME: source})
        source.unlink()
        repo_id = info["repo_id"]
        link = harness.ThrottledLink(upstream.port, args.link_mbps) if args.link_mbps else None
        mirror = harness.Gatehouse(workdir / "mirror")
        mirror.setup()
        endpoint = link.url if link else upstream.url
        namespace = repo_id.split("/")[0]
        mirror.env["GATEHOUSE_UPSTREAMS"] = json.dumps(
            [{"name": "up", "endpoint": endpoint, "namespaces": [namespace]}]
        )
        mirror.env["GATEHOUSE_MIRROR_READ_TIMEOUT"] = "120"
        servers = [upstream, *([link] if link else []), mirror]
        with harness.running(*servers):
            direct = timed_download(endpoint, repo_id, workdir / "c-direct")
            first = timed_download(mirror.url, repo_id, workdir / "c-first")
            second = timed_download(mirror.url, repo_id, workdir / "c-second")
            local = timed_download(upstream.url, repo_id, workdir / "c-local")
        mb = size / harness.MiB
        where = f"upstream over a {args.link_mbps:g} Mbit/s link" if link else "upstream on loopback"
        rows = [
            ("direct from upstream", mb / direct),
            ("mirror, first download", mb / first),
            ("mirror, second download", mb / second),
            ("local repo (loopback)", mb / local),
        ]
        print(f"  second download vs a local repo's: {local / second:.3f} (1.0: the same)")
        return harness.report(
            f"Mirror first download, {args.size_mb} MiB, {where}", rows, "MiB/s", direct / first, GOAL
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"  ({time.monotonic() - started:.0f} s)")
    sys.exit(code)
