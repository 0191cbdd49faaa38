"""Smoke test of benchmarks/dashboard.py: its server part runs end to end at a tiny size.

Benchmarks are not tests: nothing here looks at a time, only at the table's
rows and the bytes of the answers, which are stable.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import run_benchmark


def test_a_tiny_server_run_writes_the_table(tmp_path: Path) -> None:
    output = tmp_path / "DASHBOARD.md"
    stdout = run_benchmark(
        "dashboard.py",
        "--sizes",
        "200",
        "300",
        "--repeat",
        "1",
        "--no-browser",
        "--output",
        str(output),
        "--scratch-dir",
        str(tmp_path),
    )
    table = output.read_text()
    assert table in stdout
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| `/api/records` (gzip), ms: wall (CPU) | 200 keys | 300 keys |")
    labels = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert labels.count("idle poll (nothing changed)") == 2
    assert labels.count("poll after 1 change") == 2
    # As a page sees it: answered from the checker's latest look.
    assert labels.count("idle poll (nothing changed), median") == 1
    assert labels.count("idle poll / full load, as a page sees it") == 1
    # An idle poll is the same few bytes whatever the size; a full load is not.
    small, large = (cell.split(" / ") for cell in rows[-1].split(" | ")[1:3])
    assert small[1] == large[1]
    assert int(small[1]) < 200
    assert int(large[0].replace(",", "")) > int(small[0].replace(",", ""))
