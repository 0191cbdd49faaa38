"""The demo sweep, run the way the README runs it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from resulttracker import FsspecResultTracker
from resulttracker.demo import booth


def run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resulttracker.demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_demo_sweep_runs_rounds_of_trial_processes_and_converges(tmp_path: Path) -> None:
    finished = run_demo(cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    base = tmp_path / "results"
    tracker = FsspecResultTracker(base)
    (experiment,) = {key.split("/")[0] for key in tracker}
    records = list(tracker.scan())
    assert len(records) == 16
    names = {"mean", "sem", "std", "n", "min", "max", "nan_count"}
    for record in records:
        assert set(record.results) == {"x", "y", "round", "kind"} | {
            f"booth/{name}" for name in names
        }
        assert record.results["booth/n"] == 3
    # Rounds after the first refine: their trials are marked, and the best so far
    # never gets worse from one round to the next.
    kinds = {record.results["round"]: set() for record in records}
    for record in records:
        kinds[record.results["round"]].add(record.results["kind"])
    assert kinds[1] == {"explore"}
    assert all(kinds[number] <= {"model", "refine"} for number in (2, 3, 4))
    best_so_far = [
        float(match) for match in re.findall(r"best so far (-?[0-9.]+)", finished.stdout)
    ]
    assert len(best_so_far) == 4
    assert best_so_far == sorted(best_so_far, reverse=True)
    # It ends close to the optimum (0 at x=1, y=3), noise-free.
    best = tracker.best("booth")
    assert f"best: {best.key} " in finished.stdout
    assert booth(float(best.results["x"]), float(best.results["y"])) < 2.0
    assert f"the JSON files are in ./results/{experiment}/" in finished.stdout


def test_demo_suggests_commands_that_work(tmp_path: Path) -> None:
    finished = run_demo("--trials", "4", "--rounds", "2", "--parallel", "2", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    suggested = finished.stdout.split("Next, try:")[1].strip().splitlines()
    assert [line.split()[1] for line in suggested] == ["show", "serve", "report"]
    show = shlex.split(suggested[0].split("#")[0])
    result = subprocess.run(
        [*show, "-f", "jsonl"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_demo_refuses_bad_arguments(tmp_path: Path) -> None:
    finished = run_demo("--base", str(tmp_path), "--trials", "0", cwd=tmp_path)
    assert finished.returncode == 2
    assert "--trials, --seeds, --parallel and --rounds must be at least 1" in finished.stderr
    assert list(tmp_path.iterdir()) == []
