"""Smoke test of benchmarks/run.py: ``--quick`` must run every workload end to end.

Benchmarks are not tests: nothing here looks at a time. This only keeps the
runner from rotting, with the contestants a ``dev`` install has.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_benchmark

CONTESTANTS = ["resulttracker", "resulttracker-sql", "raw", "torchx"]


def test_quick_run_writes_the_table_and_the_json(tmp_path: Path) -> None:
    output = tmp_path / "out"
    stdout = run_benchmark(
        "run.py",
        "--quick",
        "--contestants",
        ",".join(CONTESTANTS),
        "--output-dir",
        str(output),
        "--scratch-dir",
        str(tmp_path),
        timeout=180,
    )

    report = json.loads((output / "results.json").read_text())
    table = (output / "RESULTS.md").read_text()
    assert table.startswith("# Benchmark results")
    header = next(line for line in table.splitlines() if line.startswith("| workload |"))
    assert header.split(" | ")[3:] == [*CONTESTANTS[:-1], "torchx |"]
    assert table.split("\n", 2)[2] in stdout  # the table is also printed
    for workload in report["workloads"].values():
        assert workload["title"] in table
        for name in CONTESTANTS:
            cell = workload["contestants"][name]
            # Every cell was measured, or honestly marked (n/a, skipped), never an error.
            assert not cell["status"].startswith("error"), (workload["title"], name, cell)
            if cell["status"] == "measured":
                assert cell["median"] is not None
                assert cell["samples"]
    assert report["workloads"]["many_writers"]["contestants"]["resulttracker"]["extra"][0] == {
        "lost": 0,
        "errors": 0,
    }
    # A contestant that cannot be imported is named, with why, instead of crashing the run.
    for name, reason in report["unavailable"].items():
        assert f"**{name}**: unavailable, not run ({reason})" in table
    assert {row["status"] for row in report["targets"]} <= {
        "pass",
        "MISS",
        "no comparison (contestant missing)",
    } | {row["status"] for row in report["targets"] if row["status"].startswith("skipped")}
    # The scratch stores are cleaned up: only the output folder is left.
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
