"""GPU throughput goals of issue 6, through bench/preview_gpu.py (run with `make test-gpu`)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.gpu
def test_gatehouse_keeps_up_with_plain_diffusers_and_batching_helps():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    # Its own process: the benchmark configures Django (SQLite, filesystem broker) from scratch.
    result = subprocess.run(
        [sys.executable, "bench/preview_gpu.py", "--requests", "16"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(lines[-1])
    print(f"\n{figures}")
    assert figures["ratio_b1_vs_baseline"] >= 0.9, figures
    assert figures["batching_gain"] > 1.0, figures
