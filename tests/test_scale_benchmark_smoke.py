"""Smoke test of benchmarks/scale.py: ``--quick`` runs every workload end to end.

Benchmarks are not tests: nothing here looks at a time, only at the request
counts the run reports, which are stable.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import run_benchmark


def test_quick_run_writes_the_table(tmp_path: Path) -> None:
    output = tmp_path / "SCALE.md"
    run_benchmark(
        "scale.py",
        "--quick",
        "--output",
        str(output),
        "--scratch-dir",
        str(tmp_path),
    )
    table = output.read_text()
    rows = {
        line.split(" | ")[0].lstrip("| "): line
        for line in table.splitlines()
        if line.startswith("| ")
    }
    assert "300 GET, 1 LIST" in rows["plain scan (today)"]
    assert "2 GET, 1 LIST" in rows["cold scan after compact, nothing changed"]
    assert "| 1 LIST |" in rows["idle poll"]
    assert "| 1 LIST |" in rows["raw listing (boto3, every page, nothing else)"]
    assert "scan with a snapshot, 1 % changed, file contents not cached" in rows
