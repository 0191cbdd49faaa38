"""A small hyper-parameter search that hands its results back through a tracker.

Run ``python -m resulttracker.demo [--base URL]``. An orchestrator starts each
trial as a separate OS process (a few at once), the way a scheduler would
launch jobs. Each trial evaluates the Booth function (minimum 0 at x=1, y=3)
with noise over a few seeds and puts the statistics (``booth/mean``,
``booth/sem``, ``booth/n``...) with its parameters (``x``, ``y``, ``round``,
``kind``) under ``<experiment>/trial<N>``.

The search runs in rounds. The first explores at random; each later round fits
a quadratic model to every result read back so far (least squares), proposes
the model's minimum, and refines around the best point with a shrinking
radius. The orchestrator waits for each round with ``wait_many``, prints the
best so far after every round, the trials marked by kind, and the commands to
look at the results.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._options import format_storage_options, parse_storage_options
from .api import ResultTracker
from .model import Record
from .query import sort_records
from .registry import open_tracker
from .stats import format_statistic, metric, summarize

__all__ = ["booth", "main"]


#: Standard deviation of the noise each evaluation of the Booth function gets.
NOISE = 0.5


def booth(x: float, y: float) -> float:
    """The Booth function: a smooth bowl with its minimum 0 at (1, 3)."""
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def run_trial(
    base: str,
    options: dict[str, Any],
    key: str,
    x: float,
    y: float,
    seeds: int,
    *,
    round_number: int = 1,
    kind: str = "explore",
) -> None:
    """One trial job: noisy evaluations over ``seeds`` seeds, then one ``put``."""
    values = []
    for seed in range(seeds):
        noise = random.Random(f"{key}/{seed}").gauss(0.0, NOISE)
        time.sleep(0.05)  # stands in for real work
        values.append(booth(x, y) + noise)
    tracker = open_tracker(base, **options)
    tracker.put(key, x=x, y=y, round=round_number, kind=kind, **summarize("booth", values))


def run_sweep(
    base: str,
    options: dict[str, Any],
    *,
    trials: int,
    seeds: int,
    parallel: int,
    seed: int,
    rounds: int = 4,
) -> int:
    """The orchestrator: plan a round, launch its trials as processes, wait, repeat."""
    experiment = "sweep-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    rng = random.Random(seed)
    tracker = open_tracker(base, **options)
    option_flags = [flag for pair in format_storage_options(options) for flag in ("-o", pair)]
    started = time.monotonic()
    rounds = min(rounds, trials)
    explore = max(1, trials - (rounds - 1) * max(1, trials // rounds))
    print(
        f"{trials} trials in {rounds} rounds ({parallel} at a time), {seeds} seeds each -> {base}"
    )
    failed = 0
    number = 0
    radius = 1.5
    for round_number in range(1, rounds + 1):
        points: list[tuple[str, float, float]] = []
        if round_number == 1:
            points = [("explore", rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(explore)]
        else:
            best = tracker.best("booth", prefix=experiment).results
            centre = (float(best["x"]), float(best["y"]))
            model_minimum = _quadratic_minimum(list(tracker.select(experiment)))
            if model_minimum is not None:
                points.append(("model", *model_minimum))
            size = min(max(1, trials // rounds), trials - number)
            while len(points) < size:
                points.append(
                    ("refine", centre[0] + rng.gauss(0, radius), centre[1] + rng.gauss(0, radius))
                )
            points = points[:size]
            radius /= 2
        plan = {}
        for kind, x, y in points:
            plan[f"{experiment}/trial{number}"] = (kind, x, y, round_number)
            number += 1
        failed += _run_round(tracker, base, option_flags, plan, seeds, parallel)
        best_record = tracker.best("booth", prefix=experiment)
        print(
            f"round {round_number}: {len(plan)} trials ({_kinds(plan)}), best so far "
            f"{format_statistic(*metric(best_record.results, 'booth'))} at "
            f"x = {best_record.results['x']:.3f}, y = {best_record.results['y']:.3f}"
        )
        if number >= trials:
            break
    elapsed = time.monotonic() - started
    _report(tracker, base, experiment, number, elapsed)
    return 1 if failed else 0


def _kinds(plan: dict[str, tuple[str, float, float, int]]) -> str:
    counts: dict[str, int] = {}
    for kind, *_ in plan.values():
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())


def _report(tracker: ResultTracker, base: str, experiment: str, count: int, elapsed: float) -> None:
    records = sort_records(tracker.select(experiment), "booth")
    print(f"\n{'key':<40} {'round':>5} {'kind':<8} {'x':>7} {'y':>7} {'booth (mean ± sem)':>20}")
    for record in records:
        row = record.results
        value = format_statistic(*metric(row, "booth"))
        print(
            f"{record.key:<40} {row['round']:>5} {row['kind']:<8} "
            f"{row['x']:>7.3f} {row['y']:>7.3f} {value:>20}"
        )
    best = tracker.best("booth", prefix=experiment)
    x, y = float(best.results["x"]), float(best.results["y"])
    print(
        f"\nbest: {best.key}  booth = {format_statistic(*metric(best.results, 'booth'))} "
        f"at x = {x:.3f}, y = {y:.3f}; the true minimum is 0 at x = 1, y = 3 "
        f"(noise-free booth there: {booth(x, y):.3f})"
    )
    print(f"{count} trials in {elapsed:.1f} s; the JSON files are in {base}/{experiment}/")
    command = _command_name()
    shown_base = shlex.quote(base)
    print("\nNext, try:")
    commands = [
        (f"{command} show {experiment} --base {shown_base}", "the table"),
        (f"{command} serve --base {shown_base}", "the live dashboard"),
        (f"{command} report {experiment}.html --base {shown_base}", "a one-file report"),
    ]
    width = max(len(line) for line, _ in commands)
    for line, what in commands:
        print(f"  {line:<{width}}  # {what}")


def _command_name() -> str:
    """How to call the command line from here: the venv's script when it is there."""
    script = Path(sys.executable).with_name("resulttracker")
    if script.exists():
        with contextlib.suppress(ValueError):
            return str(script.relative_to(Path.cwd()))
        return str(script)
    return "resulttracker"


def _quadratic_minimum(records: Sequence[Record]) -> tuple[float, float] | None:
    """The minimum of the least-squares quadratic through the observed means, or
    ``None`` when there are too few points or the fitted surface is no bowl."""
    rows = []
    for record in records:
        x, y = float(record.results["x"]), float(record.results["y"])
        rows.append(([1.0, x, y, x * x, x * y, y * y], float(record.results["booth/mean"])))
    if len(rows) < 6:
        return None
    # Normal equations (A^T A) c = A^T b, solved by Gaussian elimination.
    size = 6
    matrix = [[sum(a[i] * a[j] for a, _ in rows) for j in range(size)] for i in range(size)]
    vector = [sum(a[i] * b for a, b in rows) for i in range(size)]
    coefficients = _solve(matrix, vector)
    if coefficients is None:
        return None
    _, cx, cy, cxx, cxy, cyy = coefficients
    determinant = 4 * cxx * cyy - cxy * cxy
    if cxx <= 0 or determinant <= 0:
        return None
    x = (-2 * cyy * cx + cxy * cy) / determinant
    y = (-2 * cxx * cy + cxy * cx) / determinant
    return (x, y) if abs(x) <= 10 and abs(y) <= 10 else None


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float] | None:
    size = len(vector)
    rows = [[*row, value] for row, value in zip(matrix, vector, strict=True)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda row: abs(rows[row][column]))
        if abs(rows[pivot][column]) < 1e-12:
            return None
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for row in range(column + 1, size):
            factor = rows[row][column] / rows[column][column]
            for index in range(column, size + 1):
                rows[row][index] -= factor * rows[column][index]
    solution = [0.0] * size
    for row in reversed(range(size)):
        known = sum(rows[row][index] * solution[index] for index in range(row + 1, size))
        solution[row] = (rows[row][size] - known) / rows[row][row]
    return solution


def _run_round(
    tracker: ResultTracker,
    base: str,
    option_flags: list[str],
    plan: dict[str, tuple[str, float, float, int]],
    seeds: int,
    parallel: int,
) -> int:
    """Start one process per planned trial (``parallel`` at a time), wait for all;
    return how many processes failed."""
    running: list[subprocess.Popen[bytes]] = []
    failed = 0
    for key, (kind, x, y, round_number) in plan.items():
        while len(running) >= parallel:
            failed += _reap(running)
            time.sleep(0.02)
        command = [sys.executable, "-m", "resulttracker.demo", "--base", base, *option_flags]
        command += ["trial", key, f"{x:.4f}", f"{y:.4f}", "--seeds", str(seeds)]
        command += ["--round", str(round_number), "--kind", kind]
        running.append(subprocess.Popen(command))
    try:
        tracker.wait_many(plan, timeout=120, poll_interval=0.05)
    finally:
        while running:
            failed += _reap(running)
            time.sleep(0.02)
    return failed


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
        command.add_argument("--trials", type=int, default=16)
        command.add_argument("--rounds", type=int, default=4)
        command.add_argument("--seeds", type=int, default=3)
        command.add_argument("--parallel", type=int, default=4)
        command.add_argument("--seed", type=int, default=0, help="seed of the search")
    trial.add_argument("key")
    trial.add_argument("x", type=float)
    trial.add_argument("y", type=float)
    trial.add_argument("--seeds", type=int, default=3)
    trial.add_argument("--round", type=int, default=1)
    trial.add_argument("--kind", default="explore")
    args = parser.parse_args(argv)
    try:
        options = parse_storage_options(args.storage_option)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if args.command == "trial":
        run_trial(
            args.base,
            options,
            args.key,
            args.x,
            args.y,
            args.seeds,
            round_number=args.round,
            kind=args.kind,
        )
        return 0
    if min(args.trials, args.seeds, args.parallel, args.rounds) < 1:
        parser.error("--trials, --seeds, --parallel and --rounds must be at least 1")
    return run_sweep(
        args.base,
        options,
        trials=args.trials,
        seeds=args.seeds,
        parallel=args.parallel,
        seed=args.seed,
        rounds=args.rounds,
    )


if __name__ == "__main__":
    sys.exit(main())
