"""The README's in-process benchmark runs: a change to the composition it reaches into shows here, not on the
day someone measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_stack_benchmark_runs_and_reports_every_kind_of_request() -> None:
    done = subprocess.run([sys.executable, "bench/bench_stack.py", "--requests", "20", "--rounds", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    for kind in ("page, undecided", "page, decided", "asset"):
        assert kind in rows and rows[kind].count("µs") == 3
