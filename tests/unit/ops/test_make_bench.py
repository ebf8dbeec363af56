"""`make bench` runs the three benchmarks in order, each even after a failure, and fails if one did.

The interpreter is a stand-in script that records how it was called, inside a throw-away
virtualenv directory, so the test neither runs a benchmark nor touches .venv's stamps.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[3]
BENCH_CALLS = ["-m bench.eventstore", "-m bench.pipeline", "-m bench.console", "-m bench.sagas"]


def _make_bench(tmp_path: Path, *, failing: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n[ "$*" = "{failing}" ] && exit 3\nexit 0\n')
    python.chmod(0o755)
    # Newer than the requirements files, so make does not "install" with the stand-in.
    for stamp in (".installed-runtime", ".installed-dev"):
        (venv / stamp).touch()
    result = subprocess.run(
        ["make", "--no-print-directory", "bench", f"VENV={venv}"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/eda_bench_test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return result, [call for call in recorded if call.startswith("-m bench.")]


def test_every_benchmark_runs_in_order_even_after_one_fails_and_make_fails(tmp_path: Path) -> None:
    result, calls = _make_bench(tmp_path, failing="-m bench.pipeline")

    assert calls == BENCH_CALLS
    assert result.returncode != 0
    assert "make bench: FAILED: bench.pipeline" in result.stderr


def test_make_bench_succeeds_when_every_benchmark_does(tmp_path: Path) -> None:
    result, calls = _make_bench(tmp_path, failing="nothing")

    assert calls == BENCH_CALLS
    assert result.returncode == 0, result.stderr
