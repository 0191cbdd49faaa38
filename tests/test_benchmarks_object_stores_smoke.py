"""Smoke test of benchmarks/object_stores.py: a tiny run covers every store,
workload and contestant end to end. Nothing here looks at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AZURITE, missing_service

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "object_stores.py"


def test_a_tiny_run_prints_every_cell() -> None:
    if not AZURITE.exists():
        missing_service(f"Azurite ({AZURITE}; `make services` installs it with npm)")
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--keys", "5", "--gets", "2", "--puts", "2", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 3 * 3  # stores × workloads
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 6, row
        assert all(cell and cell != "nan" for cell in cells), row
