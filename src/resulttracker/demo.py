"""A small hyper-parameter search that hands its results back through a tracker.

Run ``python -m resulttracker.demo [--base URL]``. An orchestrator starts each
trial as a separate OS process (a few at once), the way a scheduler would
launch jobs. Each trial evaluates the Booth function (minimum 0 at x=1, y=3)
with noise over a few seeds and puts the statistics (``booth/mean``,
``booth/sem``, ``booth/n``...) under ``<experiment>/trial<N>``. The
orchestrator waits for all trials with ``wait_many``, prints every trial and
the best one, and says where the JSON files are.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .api import ResultTracker
from .registry import open_tracker
from .stats import summarize
from .validation import Results

__all__ = ["booth", "main"]


def booth(x: float, y: float) -> float:
    """The Booth function: a smooth bowl with its minimum 0 at (1, 3)."""
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"storage option {pair!r} is not NAME=VALUE")
        options[name] = value
    return options


def run_trial(base: str, options: dict[str, Any], key: str, x: float, y: float, seeds: int) -> None:
    """One trial job: noisy evaluations over ``seeds`` seeds, then one ``put``."""
    values = []
    for seed in range(seeds):
        noise = random.Random(f"{key}/{seed}").gauss(0.0, 2.0)
        time.sleep(0.05)  # stands in for real work
        values.append(booth(x, y) + noise)
    tracker = open_tracker(base, **options)
    tracker.put(key, x=x, y=y, **summarize("booth", values))


def run_sweep(
    base: str, options: dict[str, Any], *, trials: int, seeds: int, parallel: int, seed: int
) -> int:
    """The orchestrator: launch every trial as a process, wait, report."""
    experiment = "sweep-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    rng = random.Random(seed)
    tracker = open_tracker(base, **options)
    option_flags = [flag for name, value in options.items() for flag in ("-o", f"{name}={value}")]
    started = time.monotonic()
    print(f"{trials} trials ({parallel} at a time), {seeds} seeds each -> {base}")
    # Two rounds, as a search would: explore at random, then refine around the
    # best point of the first round, which the orchestrator reads back.
    first_round = max(1, trials // 2)
    plan = {
        f"{experiment}/trial{number}": (rng.uniform(-5, 5), rng.uniform(-5, 5))
        for number in range(first_round)
    }
    results, failed = _run_round(tracker, base, option_flags, plan, seeds, parallel)
    centre = min(results.values(), key=lambda row: float(row["booth/mean"]))
    refine = {
        f"{experiment}/trial{number}": (
            float(centre["x"]) + rng.gauss(0, 1),
            float(centre["y"]) + rng.gauss(0, 1),
        )
        for number in range(first_round, trials)
    }
    if refine:
        more, more_failed = _run_round(tracker, base, option_flags, refine, seeds, parallel)
        results.update(more)
        failed += more_failed
    elapsed = time.monotonic() - started

    ranked = sorted(results.items(), key=lambda item: float(item[1]["booth/mean"]))
    print(f"\n{'key':<40} {'x':>7} {'y':>7} {'booth (mean ± sem)':>22}")
    for key, row in ranked:
        value = f"{row['booth/mean']:.3f} ± {row['booth/sem']:.3f}"
        print(f"{key:<40} {row['x']:>7.3f} {row['y']:>7.3f} {value:>22}")
    best_key, best = ranked[0]
    print(
        f"\nbest: {best_key}  booth = {best['booth/mean']:.3f} ± {best['booth/sem']:.3f} "
        f"at x = {best['x']}, y = {best['y']}  (true minimum 0 at x = 1, y = 3)"
    )
    print(f"{trials} trials in {elapsed:.1f} s; the JSON files are in {base}/{experiment}/")
    return 1 if failed else 0


def _run_round(
    tracker: ResultTracker,
    base: str,
    option_flags: list[str],
    plan: dict[str, tuple[float, float]],
    seeds: int,
    parallel: int,
) -> tuple[dict[str, Results], int]:
    """Start one process per planned trial (``parallel`` at a time) and wait for all."""
    running: list[subprocess.Popen[bytes]] = []
    failed = 0
    for key, (x, y) in plan.items():
        while len(running) >= parallel:
            failed += _reap(running)
            time.sleep(0.02)
        command = [sys.executable, "-m", "resulttracker.demo", "--base", base, *option_flags]
        command += ["trial", key, f"{x:.4f}", f"{y:.4f}", "--seeds", str(seeds)]
        running.append(subprocess.Popen(command))
    try:
        results = tracker.wait_many(plan, timeout=120, poll_interval=0.1)
    finally:
        while running:
            failed += _reap(running)
            time.sleep(0.02)
    return results, failed


def _reap(running: list[subprocess.Popen[bytes]]) -> int:
    failed = 0
    for process in list(running):
        code = process.poll()
        if code is not None:
            running.remove(process)
            if code != 0:
                print(f"trial process {process.args!r} exited with {code}", file=sys.stderr)
                failed += 1
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resulttracker.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--base", default="./results", help="where results go (default ./results)")
    parser.add_argument("-o", "--storage-option", action="append", default=[], metavar="NAME=VALUE")
    commands = parser.add_subparsers(dest="command")
    sweep = commands.add_parser("sweep", help="run the whole search (the default)")
    trial = commands.add_parser("trial", help="run one trial job (started by the sweep)")
    for command in (parser, sweep):
        command.add_argument("--trials", type=int, default=12)
        command.add_argument("--seeds", type=int, default=3)
        command.add_argument("--parallel", type=int, default=4)
        command.add_argument("--seed", type=int, default=0, help="seed of the search")
    trial.add_argument("key")
    trial.add_argument("x", type=float)
    trial.add_argument("y", type=float)
    trial.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    options = _storage_options(args.storage_option)
    if args.command == "trial":
        run_trial(args.base, options, args.key, args.x, args.y, args.seeds)
        return 0
    if min(args.trials, args.seeds, args.parallel) < 1:
        parser.error("--trials, --seeds and --parallel must be at least 1")
    return run_sweep(
        args.base,
        options,
        trials=args.trials,
        seeds=args.seeds,
        parallel=args.parallel,
        seed=args.seed,
    )


if __name__ == "__main__":
    sys.exit(main())
