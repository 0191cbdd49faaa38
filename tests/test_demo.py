"""The demo sweep, run the way the README runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from resulttracker import FsspecResultTracker


def test_demo_sweep_runs_trials_as_processes_and_reports_the_best(tmp_path: Path) -> None:
    base = tmp_path / "results"
    command = [sys.executable, "-m", "resulttracker.demo", "--base", str(base)]
    finished = subprocess.run(
        [*command, "--trials", "4", "--seeds", "2", "--parallel", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "best: sweep-" in finished.stdout
    assert f"the JSON files are in {base}/sweep-" in finished.stdout
    tracker = FsspecResultTracker(base)
    keys = list(tracker.keys())
    assert len(keys) == 4
    for record in tracker.scan():
        names = {"mean", "sem", "std", "n", "min", "max", "nan_count"}
        assert set(record.results) == {"x", "y"} | {f"booth/{name}" for name in names}
        assert record.results["booth/n"] == 2
    best = min(keys, key=lambda key: float(tracker[key]["booth/mean"]))
    assert f"best: {best} " in finished.stdout


def test_demo_refuses_bad_arguments(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "resulttracker.demo", "--base", str(tmp_path), "--trials", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert "--trials, --seeds and --parallel must be at least 1" in finished.stderr
    assert list(tmp_path.iterdir()) == []
