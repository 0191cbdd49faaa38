"""Smoke test of benchmarks/object_stores.py: a tiny run covers every store,
workload and contestant end to end. Nothing here looks at a time."""

from __future__ import annotations

import pytest

from .conftest import AZURITE, missing_service, run_benchmark

pytestmark = pytest.mark.slow


def test_a_tiny_run_prints_every_cell() -> None:
    if not AZURITE.exists():
        missing_service(f"Azurite ({AZURITE}; `make services` installs it with npm)")
    stdout = run_benchmark(
        "object_stores.py", "--keys", "5", "--gets", "2", "--puts", "2", "--repeat", "1"
    )
    rows = [line for line in stdout.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 3 * 3  # stores × workloads
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 6, row
        assert all(cell and cell != "nan" for cell in cells), row
