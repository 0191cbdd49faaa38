"""Cold start: how long a new process takes to read one key, ours against torchx's.

Run from the repository root:

    .venv/bin/python benchmarks/cold_start.py              # 41 rounds
    .venv/bin/python benchmarks/cold_start.py --runs 101   # steadier medians

Each round starts every command once, in a new process, in an order that
rotates from round to round (so that a noisy neighbour hurts all alike), after
two warm-up rounds that also write the bytecode caches (``PYTHONDONTWRITEBYTECODE``
is unset for the runs); a cell is the median wall time over the rounds,
hyperfine-style. The commands,
all on one key of a local folder:

* ``resulttracker get`` - the command line (its entry point, ``resulttracker.__main__``);
* ``import resulttracker`` - the library alone;
* torchx - ``python -c "from torchx.runtime.tracking import FsspecResultTracker as T;
  print(T(base)['k'])"``, the one-liner that reads the same key;
* raw - ``python -c`` reading the file with :mod:`json`, the floor of reading a key;
* ``python -c pass`` - the interpreter's own start.

Ratios are over the torchx one-liner (issue 15: ``resulttracker get`` at or
below it). ``benchmarks/run.py`` runs the same measure as its ``cold_start`` row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

KEY = "exp/trial-000001"
RESULTS = {"loss": 0.25, "accuracy/mean": 0.9, "accuracy/sem": 0.01, "epoch": 7}

#: The entry point the ``resulttracker`` script runs (``[project.scripts]``).
ENTRY_POINT = "import sys; from resulttracker.__main__ import main; sys.exit(main())"


def commands(base: str, key: str = KEY) -> dict[str, list[str]]:
    """Each contestant's command reading ``key`` of the folder ``base``."""
    python = sys.executable
    path = os.path.join(base, key)
    return {
        "resulttracker get": [python, "-c", ENTRY_POINT, "-b", base, "get", key],
        "import resulttracker": [python, "-c", "import resulttracker"],
        "torchx": [
            python,
            "-c",
            "from torchx.runtime.tracking import FsspecResultTracker as T; "
            f"print(T({base!r})[{key!r}])",
        ],
        "raw": [python, "-c", f"import json; print(json.load(open({path!r})))"],
        "python -c pass": [python, "-c", "pass"],
    }


def fill(base: str, key: str = KEY) -> None:
    """Store the one key every command reads."""
    from resulttracker import FsspecResultTracker

    FsspecResultTracker(base).put(key, **RESULTS)


def _environment() -> dict[str, str]:
    # Bytecode is written and reused, as in any installed environment (without
    # it every run would compile every module again).
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def time_once(command: Sequence[str]) -> float:
    """Seconds one run of ``command`` takes, start to exit; it must succeed."""
    environment = _environment()
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, check=False, env=environment)
    took = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {completed.stderr.decode()[-500:]}")
    return took


def measure(named: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Wall times (seconds) of every command over ``rounds`` interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in named}
    names = list(named)
    for _ in range(2):  # warm the file cache and the bytecode caches first
        for name in names:
            time_once(named[name])
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(time_once(named[name]))
    return samples


def table(samples: dict[str, list[float]], reference: str = "torchx") -> str:
    """A Markdown table of medians (ms) and ratios over ``reference``."""
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor = medians.get("python -c pass")
    lines = [
        f"| command | median (ms) | × {reference} | above `python -c pass` (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, median in medians.items():
        ratio = f"{median / medians[reference]:.2f}×" if reference in medians else "–"
        above = f"{(median - floor) * 1e3:.1f}" if floor is not None else "–"
        lines.append(f"| {name} | {median * 1e3:.1f} | {ratio} | {above} |")
    runs = len(next(iter(samples.values())))
    lines.append("")
    lines.append(f"Medians of {runs} interleaved runs each; {os.cpu_count()} CPUs.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=41, help="rounds (default 41)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        base = os.path.join(scratch, "results")
        fill(base)
        named = commands(base)
        try:
            import torchx  # noqa: F401
        except ImportError:
            del named["torchx"]
        print(table(measure(named, options.runs), "torchx" if "torchx" in named else "raw"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
