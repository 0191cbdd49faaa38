"""Peak memory of ``tracker.export`` as the store grows: it should stay flat.

Run::

    .venv/bin/python benchmarks/export_memory.py            # 1,000 / 10,000 / 100,000 keys
    .venv/bin/python benchmarks/export_memory.py 1000 5000  # other sizes

For each size a local store is filled with raw result files (written directly,
like the files torchx writes, to keep set-up fast), then each format is
exported in a fresh child process that reports its peak resident set size
(``ru_maxrss``) and the rise over the RSS right before the export. Not a test:
numbers depend on the machine; commit the table with the date and machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import resource, sys
from resulttracker import FsspecResultTracker
import pyarrow.parquet  # loaded before the baseline, like the tracker itself

def rss_mib():
    # current RSS from /proc (Linux); ru_maxrss is the peak, in KiB on Linux
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

base, destination, format = sys.argv[1:4]
tracker = FsspecResultTracker(base)
before = rss_mib()
rows = tracker.export(destination, format=format)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(rows, round(before, 1), round(peak, 1))
"""


def fill(folder: Path, keys: int) -> None:
    for number in range(keys):
        path = folder / f"sweep/trial{number // 10:05d}/seed{number % 10}"
        path.parent.mkdir(parents=True, exist_ok=True)
        results = {f"metric{i:02d}": number * 0.001 + i for i in range(20)}
        results.update({"loss/mean": float(number), "loss/sem": 0.1, "opt": "adam"})
        path.write_text(json.dumps(results, indent=2))


def main(sizes: list[int]) -> None:
    print("| keys | format | rows | RSS before (MiB) | peak RSS (MiB) | rise (MiB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for keys in sizes:
        with tempfile.TemporaryDirectory(prefix="rt-bench-") as folder:
            base = Path(folder) / "store"
            fill(base, keys)
            for format in ("csv", "jsonl", "json", "parquet"):
                destination = Path(folder) / f"out.{format}"
                output = subprocess.run(
                    [sys.executable, "-c", CHILD, str(base), str(destination), format],
                    check=True,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONHASHSEED": "0"},
                ).stdout.split()
                rows, before, peak = int(output[0]), float(output[1]), float(output[2])
                print(
                    f"| {keys:,} | {format} | {rows:,} | {before:.0f} | {peak:.0f} "
                    f"| {peak - before:.0f} |"
                )


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1:]] or [1_000, 10_000, 100_000])
