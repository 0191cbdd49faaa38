"""Smoke test of benchmarks/scale.py: ``--quick`` runs every workload end to end.

Benchmarks are not tests: nothing here looks at a time, only at the request
counts the run reports, which are stable.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "scale.py"


def test_quick_run_writes_the_table(tmp_path: Path) -> None:
    output = tmp_path / "SCALE.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--output",
            str(output),
            "--scratch-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
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
