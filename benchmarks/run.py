"""Benchmark resulttracker side by side with torchx, MLflow, Optuna and the raw floor.

Run from the repository root (``make bench`` does the first):

    .venv/bin/python benchmarks/run.py                 # full run, writes the tables
    .venv/bin/python benchmarks/run.py --quick         # every workload, tiny N (CI smoke)
    .venv/bin/python benchmarks/run.py --contestants resulttracker,raw,torchx \\
        --workloads get_local,load_local --repeat 7

Every workload runs for every available contestant in this one process run,
interleaved: each repetition runs all contestants, starting with a different
one each time, so that a noisy neighbour hurts everyone alike. A cell is the
median of the repetitions; the targets of issue 5 are checked on those medians
as ratios. The Markdown table is printed and written to ``RESULTS.md`` and the
raw samples to ``results.json`` (both in ``--output-dir``, default this folder).

Contestants whose package is missing are listed as unavailable, not run. The
benchmark dependencies are the ``bench`` extra: ``pip install -e '.[dev,bench]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, ClassVar

# Run as a script, this folder is on sys.path: its modules import by bare name.
import cold_start
from contestants import Contestant, Spec, UnavailableError, all_specs, drop_benchmark_tables
from sample import results_for

import workers

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = "resulttracker"


def key_for(index: int) -> str:
    return f"trial-{index:06d}"


class SkippedError(Exception):
    """The workload does not apply (the message says why); not a failure."""


@dataclass
class Sample:
    value: float
    extra: dict[str, Any] = field(default_factory=dict)


# -- shared fixtures: populated stores, S3 endpoints, worker processes -----------------------


class Bench:
    """What workloads share: options, a scratch folder, filled stores, servers, workers."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.scratch = tempfile.mkdtemp(prefix="rt-bench-", dir=options.scratch_dir)
        self._filled: dict[tuple[str, int], tuple[str, Contestant | None]] = {}
        self._s3: Any = None
        self._s3_filled: dict[int, str] = {}
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Any]] = []

    def folder(self, *parts: str) -> str:
        path = os.path.join(self.scratch, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def filled(self, spec: Spec, count: int) -> tuple[str, Contestant | None]:
        """A local store holding ``count`` keys for ``spec``, and the contestant
        that filled it (``None`` for the shared JSON-file folder)."""
        shared = spec.shares_files
        name = ("files" if shared else spec.name, count)
        if name not in self._filled:
            folder = self.folder(f"filled-{name[0]}-{count}")
            if shared:
                # One torchx-format file per key, written plainly: every file-based
                # contestant reads the very same files (and page cache).
                os.makedirs(folder)
                for index in range(count):
                    with open(os.path.join(folder, key_for(index)), "wb") as file:
                        file.write(json.dumps(results_for(index), indent=2).encode())
                self._filled[name] = (folder, None)
            else:
                assert spec.local is not None
                started = time.perf_counter()
                contestant = spec.local(folder)
                for index in range(count):
                    contestant.put(key_for(index), results_for(index))
                took = time.perf_counter() - started
                log(f"    filled {spec.name} with {count} keys in {took:.1f} s")
                self._filled[name] = (folder, contestant)
        return self._filled[name]

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            from s3_server import S3Endpoints

            self._s3 = S3Endpoints(self.options.s3_delay_ms / 1000)
        return self._s3

    def s3_filled(self, count: int) -> str:
        """An ``s3://`` URL holding ``count`` keys in the torchx format."""
        if count not in self._s3_filled:
            import fsspec

            fs = fsspec.filesystem("s3", **self.s3.options(self.s3.plain))
            if not fs.exists("bench"):
                fs.mkdir("bench")
            root = f"bench/load-{count}"
            fs.pipe(
                {
                    f"{root}/{key_for(index)}": json.dumps(results_for(index), indent=2).encode()
                    for index in range(count)
                }
            )
            self._s3_filled[count] = f"s3://{root}"
        return self._s3_filled[count]

    def workers(self, count: int) -> list[Any]:
        """``count`` worker processes (pipes to them), started once and reused."""
        while len(self._workers) < count:
            parent, child = self._context.Pipe()
            process = self._context.Process(target=workers.serve, args=(child,), daemon=True)
            process.start()
            self._workers.append((process, parent))
        return [connection for _, connection in self._workers[:count]]

    def run_in_fresh_process(self, function: Callable[..., None], **kwargs: Any) -> Any:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=function, args=(child,), kwargs=kwargs)
        process.start()
        try:
            if not parent.poll(600):
                raise TimeoutError(f"{function.__name__} sent nothing in 600 s")
            return parent.recv()
        finally:
            process.join(timeout=30)

    def close(self) -> None:
        for process, connection in self._workers:
            with contextlib.suppress(OSError):
                connection.send(None)
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        if self._s3 is not None:
            self._s3.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


# -- the workloads ---------------------------------------------------------------------------


class Workload:
    """One row of the table. Subclasses set the class attributes and ``measure``."""

    name = ""
    title = ""
    unit = ""
    lower_is_better = True
    heavy = False  # runs --heavy-repeat times instead of --repeat

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.options = bench.options

    def applies(self, spec: Spec) -> bool:
        return spec.local is not None

    def size(self) -> str:
        """The N of this workload, for the table."""
        return ""

    def setup(self, spec: Spec) -> Any:
        return None

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        raise NotImplementedError


class PutLocal(Workload):
    name = "put_local"
    title = "durable put, local folder"
    unit = "µs/put"

    def size(self) -> str:
        return f"{self.options.put_n} puts"

    def setup(self, spec: Spec) -> Any:
        assert spec.local is not None
        contestant = spec.local(self.bench.folder(f"put-{spec.name}"))
        contestant.put("warm-up", results_for(0))  # creates folders, tables, files
        return contestant

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        count = self.options.put_n
        items = [(f"r{repetition}-{key_for(i)}", results_for(i)) for i in range(count)]
        put = state.put
        started = time.perf_counter()
        for key, results in items:
            put(key, results)
        return Sample((time.perf_counter() - started) / count * 1e6)


class GetLocal(Workload):
    name = "get_local"
    title = "get one key, local folder"
    unit = "µs/get"

    def size(self) -> str:
        return f"{self.options.get_n} gets of {self.options.load_n} keys"

    def setup(self, spec: Spec) -> Any:
        assert spec.local is not None
        folder, filler = self.bench.filled(spec, self.options.load_n)
        # The filler remembers ids (MLflow run ids, Optuna trial ids): their best case.
        return filler if filler is not None else spec.local(folder)

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        rng = random.Random(repetition)
        indexes = [rng.randrange(self.options.load_n) for _ in range(self.options.get_n)]
        keys = [key_for(i) for i in indexes]
        get = state.get
        started = time.perf_counter()
        for key in keys:
            get(key)
        took = time.perf_counter() - started
        check = get(keys[0])
        if not check or abs(float(check["loss"]) - results_for(indexes[0])["loss"]) > 1e-9:
            raise AssertionError(f"{spec.name} read back {check!r} for {keys[0]}")
        return Sample(took / len(keys) * 1e6)


class LoadLocal(Workload):
    name = "load_local"
    title = "load everything, local folder (open + list + read)"
    unit = "ms"

    def size(self) -> str:
        return f"{self.options.load_n} keys"

    def setup(self, spec: Spec) -> Any:
        return self.bench.filled(spec, self.options.load_n)[0]

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        assert spec.local is not None
        count = self.options.load_n
        started = time.perf_counter()
        loaded = spec.local(state).load_all()  # a fresh reader, as another process has
        took = time.perf_counter() - started
        if len(loaded) != count:
            raise AssertionError(f"{spec.name} loaded {len(loaded)} keys of {count}")
        return Sample(took * 1e3, {"µs/key": took / count * 1e6})


class LoadS3(Workload):
    name = "load_s3"
    title = "load everything over S3 (moto, loopback)"
    unit = "ms"
    delayed = False

    def applies(self, spec: Spec) -> bool:
        return spec.s3 is not None

    def size(self) -> str:
        delay = f", {self.options.s3_delay_ms:g} ms/request" if self.delayed else ""
        return f"{self.options.s3_n} keys{delay}"

    def setup(self, spec: Spec) -> Any:
        endpoint = self.bench.s3.delayed if self.delayed else self.bench.s3.plain
        return self.bench.s3_filled(self.options.s3_n), self.bench.s3.options(endpoint)

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        assert spec.s3 is not None
        url, storage_options = state
        count = self.options.s3_n
        started = time.perf_counter()
        loaded = spec.s3(url, storage_options).load_all()
        took = time.perf_counter() - started
        if len(loaded) != count:
            raise AssertionError(f"{spec.name} loaded {len(loaded)} keys of {count}")
        return Sample(took * 1e3, {"µs/key": took / count * 1e6})


class LoadS3Delayed(LoadS3):
    name = "load_s3_delay"
    title = "load everything over S3, delayed requests"
    delayed = True
    heavy = True


class ManyWriters(Workload):
    name = "many_writers"
    title = "many writers (processes), distinct keys"
    unit = "puts/s"
    lower_is_better = False
    heavy = True

    def size(self) -> str:
        return f"{self.options.writers} × {self.options.writer_puts} puts"

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        assert spec.local is not None
        writers, count = self.options.writers, self.options.writer_puts
        folder = self.bench.folder(f"writers-{spec.name}-{repetition}")
        spec.local(folder).close()  # create the store before writers race to
        connections = self.bench.workers(writers)
        for worker, connection in enumerate(connections):
            arguments = {
                "spec": spec.name,
                "folder": folder,
                "worker": worker,
                "count": count,
                "results": results_for(worker),
            }
            connection.send(("write_keys", arguments))
        for connection in connections:
            if connection.recv() != "ready":
                raise RuntimeError("a writer failed to start")
        start_at = time.perf_counter() + 0.2
        for connection in connections:
            connection.send(start_at)
        reports = [connection.recv() for connection in connections]
        elapsed = max(r["end"] for r in reports) - min(r["start"] for r in reports)
        errors = sum(r["errors"] for r in reports)
        expected = {f"w{w:02d}-{i:06d}" for w in range(writers) for i in range(count)}
        found = {key for key, results in spec.local(folder).load_all().items() if results}
        lost = len(expected - found)
        extra = {"lost": lost, "errors": errors}
        first_error = next((r["first_error"] for r in reports if r["first_error"]), "")
        if first_error:
            extra["first_error"] = first_error
        return Sample((len(expected) - errors) / elapsed, extra)


class Memory(Workload):
    name = "memory_scan"
    title = "memory: peak RSS above baseline loading every key"
    unit = "MiB"
    heavy = True

    def applies(self, spec: Spec) -> bool:
        # Filling 100,000 keys through MLflow or Optuna takes the better part of
        # an hour; the file-based contestants share one folder filled directly.
        return spec.shares_files and spec.local is not None

    def size(self) -> str:
        return f"{self.options.memory_n} keys"

    def setup(self, spec: Spec) -> Any:
        return self.bench.filled(spec, self.options.memory_n)[0]

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        report = self.bench.run_in_fresh_process(
            workers.measure_memory, spec=spec.name, folder=state, expected=self.options.memory_n
        )
        if "error" in report:
            raise AssertionError(report["error"])
        above = (report["peak_kib"] - report["baseline_kib"]) * 1024
        decoded = report["decoded_bytes"]
        return Sample(
            above / 2**20,
            {
                "decoded MiB": decoded / 2**20,
                "peak / decoded": above / decoded,
                "peak reset": report["peak_reset"],
            },
        )


class MemoryExport(Workload):
    name = "memory_export"
    title = "memory: peak RSS above baseline exporting every key to Parquet"
    unit = "MiB"
    heavy = True

    def applies(self, spec: Spec) -> bool:
        return spec.ours and spec.shares_files

    def size(self) -> str:
        return f"{self.options.memory_n} keys (and a tenth of them)"

    def setup(self, spec: Spec) -> Any:
        # Streaming shows as a peak that does not grow with the store: export a
        # store and one ten times smaller, and compare.
        return (
            self.bench.filled(spec, self.options.memory_n)[0],
            self.bench.filled(spec, max(1, self.options.memory_n // 10))[0],
        )

    def _peak(self, spec: Spec, folder: Any, label: str) -> float:
        target = self.bench.folder(f"export-{spec.name}-{label}.parquet")
        report = self.bench.run_in_fresh_process(
            workers.measure_export, spec=spec.name, folder=folder, target=target
        )
        if "skipped" in report:
            raise SkippedError(report["skipped"])
        return float(report["peak_kib"] - report["baseline_kib"]) / 1024

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        full, tenth = state
        peak = self._peak(spec, full, f"full-{repetition}")
        small = self._peak(spec, tenth, f"tenth-{repetition}")
        return Sample(peak, {"peak at a tenth, MiB": small, "growth for 10× keys": peak / small})


class WaitLatency(Workload):
    name = "wait"
    title = "put in one process → wait returns in another"
    unit = "ms"

    def size(self) -> str:
        return f"{self.options.wait_n} waits, poll every {self.options.poll_interval * 1e3:g} ms"

    def setup(self, spec: Spec) -> Any:
        assert spec.local is not None
        folder = self.bench.folder(f"wait-{spec.name}")
        contestant = spec.local(folder)
        contestant.put("warm-up", results_for(0))
        return folder, contestant

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        folder, contestant = state
        poll = self.options.poll_interval
        (connection,) = self.bench.workers(1)
        connection.send(("wait_keys", {"spec": spec.name, "folder": folder, "poll_interval": poll}))
        if connection.recv() != "ready":
            raise RuntimeError("the waiter failed to start")
        rng = random.Random(repetition)
        latencies = []
        try:
            for index in range(self.options.wait_n):
                key = f"r{repetition}-{key_for(index)}"
                connection.send(key)
                connection.recv()  # "armed"
                time.sleep(poll * 0.1 + rng.uniform(0, poll))  # a random poll phase
                started = time.perf_counter()
                contestant.put(key, results_for(index))
                returned = connection.recv()
                if isinstance(returned, str):
                    raise RuntimeError(f"wait failed in the other process: {returned}")
                latencies.append((returned - started) * 1e3)
        finally:
            connection.send(None)
        return Sample(statistics.median(latencies))


class ColdStart(Workload):
    """A new process reading one key (``benchmarks/cold_start.py`` has the details):
    ``resulttracker get`` against torchx's one-liner and the raw floor (``json``)."""

    name = "cold_start"
    title = "cold start: a new process prints one key (resulttracker get)"
    unit = "ms"

    #: Contestant -> its command in cold_start.commands.
    COMMANDS: ClassVar[dict[str, str]] = {
        OURS: "resulttracker get",
        "torchx": "torchx",
        "raw": "raw",
    }

    def applies(self, spec: Spec) -> bool:
        return spec.name in self.COMMANDS

    def size(self) -> str:
        return f"median of {self.options.cold_runs} processes"

    def setup(self, spec: Spec) -> Any:
        folder = self.bench.folder(f"cold-{spec.name}")
        cold_start.fill(folder)
        command = cold_start.commands(folder)[self.COMMANDS[spec.name]]
        cold_start.time_once(command)  # writes the bytecode caches
        return command

    def measure(self, spec: Spec, state: Any, repetition: int) -> Sample:
        runs = [cold_start.time_once(state) for _ in range(self.options.cold_runs)]
        return Sample(statistics.median(runs) * 1e3)


WORKLOADS: list[type[Workload]] = [
    PutLocal,
    GetLocal,
    LoadLocal,
    LoadS3,
    LoadS3Delayed,
    ManyWriters,
    Memory,
    MemoryExport,
    WaitLatency,
    ColdStart,
]


# -- running -------------------------------------------------------------------------------


@dataclass
class Cell:
    samples: list[Sample] = field(default_factory=list)
    status: str = ""  # "" (measured), "skipped: ...", "error: ..."

    @property
    def median(self) -> float | None:
        if self.status or not self.samples:
            return None
        return statistics.median(sample.value for sample in self.samples)

    def extra(self, name: str) -> Any:
        values = [s.extra[name] for s in self.samples if name in s.extra]
        if not values:
            return None
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            if name in ("lost", "errors"):
                return max(values)  # the worst repetition: loss is never averaged away
            return statistics.median(values)
        return values[0]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_workload(workload: Workload, specs: list[Spec], repeat: int) -> dict[str, Cell]:
    cells = {spec.name: Cell() for spec in specs}
    running = []
    for spec in specs:
        if not workload.applies(spec):
            cells[spec.name].status = "n/a"
            continue
        try:
            running.append((spec, workload.setup(spec)))
        except SkippedError as skip:
            cells[spec.name].status = f"skipped: {skip}"
        except Exception as error:
            cells[spec.name].status = f"error: {type(error).__name__}: {error}"[:300]
            traceback.print_exc()
    for repetition in range(repeat):
        shift = repetition % max(len(running), 1)
        for spec, state in running[shift:] + running[:shift]:
            cell = cells[spec.name]
            if cell.status:
                continue
            try:
                cell.samples.append(workload.measure(spec, state, repetition))
            except SkippedError as skip:
                cell.status = f"skipped: {skip}"
            except Exception as error:
                cell.status = f"error: {type(error).__name__}: {error}"[:300]
                traceback.print_exc()
        log(
            f"  {workload.name} repetition {repetition + 1}/{repeat}: "
            + ", ".join(
                f"{name} {format_value(c.samples[-1].value)}"
                for name, c in cells.items()
                if c.samples and not c.status
            )
        )
    return cells


# -- targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``measure(results, workload, ours) -> value``, compared to ``bound``."""

    workload: str
    text: str
    measure: Callable[[dict[str, dict[str, Cell]], str, str], float | None]
    bound: float
    at_most: bool
    shown: str = "{:.3f}×"


Measure = Callable[[dict[str, dict[str, Cell]], str, str], float | None]


def _slower(numerator: str) -> Measure:
    """How many times ``numerator``'s time is ours (≥ bound: we are that much faster)."""

    def measure(results: dict[str, dict[str, Cell]], workload: str, ours: str) -> float | None:
        cells = results[workload]
        theirs, mine = cells.get(numerator, Cell()).median, cells[ours].median
        return None if theirs is None or not mine else theirs / mine

    return measure


def _within(floor: str) -> Measure:
    """Our value over the floor's (a time ratio, or a throughput ratio)."""

    def measure(results: dict[str, dict[str, Cell]], workload: str, ours: str) -> float | None:
        cells = results[workload]
        theirs, mine = cells.get(floor, Cell()).median, cells[ours].median
        return None if theirs is None or mine is None or not theirs else mine / theirs

    return measure


def _extra(name: str) -> Measure:
    def measure(results: dict[str, dict[str, Cell]], workload: str, ours: str) -> float | None:
        cells = results[workload]
        if cells[ours].median is None:
            return None
        value = cells[ours].extra(name)
        return None if value is None else float(value)

    return measure


TARGETS = [
    Target("get_local", "within 1.3× of raw", _within("raw"), 1.3, True),
    Target("get_local", "≥ 2× faster than torchx", _slower("torchx"), 2, False),
    Target("put_local", "within 1.2× of the raw durable floor", _within("raw"), 1.2, True),
    Target("load_local", "within 1.3× of raw", _within("raw"), 1.3, True),
    Target("load_local", "≥ 2× faster than torchx's get loop", _slower("torchx"), 2, False),
    Target("load_local", "≥ 5× faster than MLflow search_runs", _slower("mlflow"), 5, False),
    Target("load_local", "≥ 5× faster than Optuna RDB get_trials", _slower("optuna-rdb"), 5, False),
    Target(
        "load_local",
        "≥ 5× faster than Optuna Journal get_trials",
        _slower("optuna-journal"),
        5,
        False,
    ),
    Target("load_s3_delay", "≥ 10× faster than torchx's get loop", _slower("torchx"), 10, False),
    Target("load_s3_delay", "within 1.25× of raw find + cat", _within("raw"), 1.25, True),
    Target("load_s3", "≥ 2× faster than torchx's get loop", _slower("torchx"), 2, False),
    Target("many_writers", "nothing lost", _extra("lost"), 0, True, "{:.0f} lost"),
    Target("cold_start", "at or below the torchx one-liner", _within("torchx"), 1.0, True),
    Target("many_writers", "≥ 0.8× raw throughput", _within("raw"), 0.8, False),
    Target(
        "memory_scan",
        "peak ≤ 2× the decoded results' size",
        _extra("peak / decoded"),
        2,
        True,
    ),
    Target(
        "memory_export",
        "export streams: 10× the keys raise the peak by ≤ 1.5×",
        _extra("growth for 10× keys"),
        1.5,
        True,
    ),
]


def check_targets(results: dict[str, dict[str, Cell]], specs: list[Spec]) -> list[dict[str, Any]]:
    rows = []
    # The targets are the file backend's; the other backends are measured beside it.
    for spec in (s for s in specs if s.name == OURS):
        for target in TARGETS:
            cells = results.get(target.workload)
            row = {"contestant": spec.name, "workload": target.workload, "target": target.text}
            if cells is None:
                row.update(measured=None, status="not run")
            elif cells[spec.name].status:
                row.update(measured=None, status=cells[spec.name].status)
            else:
                value = target.measure(results, target.workload, spec.name)
                if value is None:
                    row.update(measured=None, status="no comparison (contestant missing)")
                else:
                    met = value <= target.bound if target.at_most else value >= target.bound
                    row.update(
                        measured=target.shown.format(value), status="pass" if met else "MISS"
                    )
            rows.append(row)
    return rows


# -- issue 14: each SQL tracker against the bare driver on its database ----------------------

#: resulttracker's SQL contestant -> the raw-driver floor on the same database.
SQL_FLOORS = {
    "resulttracker-sql": "raw-sqlite",
    "resulttracker-postgres": "raw-postgres",
    "resulttracker-mariadb": "raw-mariadb",
}

#: (workload, bound): our time over the floor's, at most.
SQL_TARGETS = [("get_local", 1.5), ("put_local", 1.5), ("load_local", 1.3)]


def check_sql_targets(
    results: dict[str, dict[str, Cell]], specs: list[Spec]
) -> list[dict[str, Any]]:
    """The SQL rows of the targets table: ``get``/``put`` within 1.5× of the raw
    driver, load-all (``scan``) within 1.3×, for each database both ran on."""
    names = {spec.name for spec in specs}
    rows = []
    for ours, floor in SQL_FLOORS.items():
        if ours not in names or floor not in names:
            continue
        for workload, bound in SQL_TARGETS:
            row: dict[str, Any] = {
                "contestant": ours,
                "workload": workload,
                "target": f"within {bound:g}× of {floor}",
            }
            cells = results.get(workload)
            if cells is None:
                row.update(measured=None, status="not run")
            elif cells[ours].status or cells[floor].status:
                row.update(measured=None, status=cells[ours].status or cells[floor].status)
            else:
                value = _within(floor)(results, workload, ours)
                if value is None:
                    row.update(measured=None, status="no comparison (contestant missing)")
                else:
                    status = "pass" if value <= bound else "MISS"
                    row.update(measured=f"{value:.3f}×", status=status)
            rows.append(row)
    return rows


# -- reporting -----------------------------------------------------------------------------


def format_value(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("resulttracker", "torchx", "mlflow", "optuna", "fsspec", "s3fs", "moto"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def markdown(
    workloads: list[Workload],
    results: dict[str, dict[str, Cell]],
    specs: list[Spec],
    missing: dict[str, str],
    targets: list[dict[str, Any]],
    options: argparse.Namespace,
    seconds: float,
) -> str:
    names = [spec.name for spec in specs]
    flags = changed_flags(options)
    command = "benchmarks/run.py" + (f" {flags}" if flags else "")
    lines = [
        f"Reproduce: `make bench BENCH_ARGS='{flags}'`, or `.venv/bin/python {command}` "
        "after `pip install -e '.[dev,bench]'`."
        if flags
        else "Reproduce: `make bench`, or `.venv/bin/python benchmarks/run.py` after "
        "`pip install -e '.[dev,bench]'`.",
        "",
        "All numbers come from one run in which every contestant ran every workload, "
        "interleaved, on a machine shared with other jobs: absolute times are noisy and "
        "machine-bound; the ratios within the run are the point.",
        "",
        "| workload | N | unit | " + " | ".join(names) + " |",
        "|---|---|---|" + "---:|" * len(names),
    ]
    for workload in workloads:
        cells = results[workload.name]
        ours = cells.get(OURS, Cell()).median
        row = []
        for name in names:
            cell = cells[name]
            if cell.status:
                row.append("n/a" if cell.status == "n/a" else cell.status.split(":")[0])
                continue
            text = format_value(cell.median or 0.0)
            if ours and name != OURS and cell.median:
                text += f" ({cell.median / ours:.2f}×)"
            row.append(text)
        direction = "" if workload.lower_is_better else " (higher is better)"
        lines.append(
            f"| {workload.title} | {workload.size()} | {workload.unit}{direction} | "
            + " | ".join(row)
            + " |"
        )
    lines += [
        "",
        "Cells are medians of the repetitions; `(k×)` is the contestant's value over "
        f"{OURS}'s (for times, k > 1 means {OURS} is faster; for puts/s, k < 1 means it is).",
        "",
        "| contestant | workload | target | measured | result |",
        "|---|---|---|---:|---|",
    ]
    for row in targets:
        measured = row["measured"] if row["measured"] is not None else "–"
        lines.append(
            f"| {row['contestant']} | {row['workload']} | {row['target']} | {measured} "
            f"| {row['status']} |"
        )
    details = []
    for workload in workloads:
        for name, cell in results[workload.name].items():
            if cell.status and cell.status != "n/a":
                details.append(f"- {workload.name} / {name}: {cell.status}")
            for extra in (
                "µs/key",
                "lost",
                "errors",
                "first_error",
                "decoded MiB",
                "peak / decoded",
            ):
                value = cell.extra(extra)
                if value is not None and not cell.status:
                    shown = format_value(value) if isinstance(value, float) else value
                    details.append(f"- {workload.name} / {name}: {extra} = {shown}")
    lines += ["", "Details:", "", *details]
    lines += ["", "Contestants:", ""]
    for spec in all_specs():
        if spec.name in missing:
            lines.append(f"- **{spec.name}**: unavailable, not run ({missing[spec.name]}).")
        elif spec.name in names and spec.note:
            lines.append(f"- **{spec.name}**: {spec.note}")
    found = versions()
    lines += [
        "",
        f"Run: {options.repeat} repetitions ({options.heavy_repeat} for the heavy rows), "
        f"{'--quick, ' if options.quick else ''}{os.cpu_count()} CPUs, "
        f"{platform.platform()}, {seconds:.0f} s in all. Versions: "
        + ", ".join(f"{name} {version}" for name, version in found.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def changed_flags(options: argparse.Namespace) -> str:
    """The command-line flags that differ from the defaults (sizes and repetitions)."""
    if options.quick:
        return "--quick"
    defaults = vars(parse_arguments([]))
    changed = []
    for name, value in vars(options).items():
        if name in ("output_dir", "scratch_dir", "contestants", "workloads"):
            continue
        if value != defaults[name]:
            changed.append(f"--{name.replace('_', '-')} {value}")
    if options.contestants:
        changed.append(f"--contestants {options.contestants}")
    if options.workloads:
        changed.append(f"--workloads {options.workloads}")
    return " ".join(changed)


def to_json(
    workloads: list[Workload],
    results: dict[str, dict[str, Cell]],
    missing: dict[str, str],
    targets: list[dict[str, Any]],
    options: argparse.Namespace,
) -> dict[str, Any]:
    return {
        "options": vars(options),
        "versions": versions(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "unavailable": missing,
        "workloads": {
            workload.name: {
                "title": workload.title,
                "size": workload.size(),
                "unit": workload.unit,
                "lower_is_better": workload.lower_is_better,
                "contestants": {
                    name: {
                        "median": cell.median,
                        "status": cell.status or "measured",
                        "samples": [s.value for s in cell.samples],
                        "extra": [s.extra for s in cell.samples],
                    }
                    for name, cell in results[workload.name].items()
                },
            }
            for workload in workloads
        },
        "targets": targets,
    }


# -- command line ----------------------------------------------------------------------------

QUICK = {
    "repeat": 2,
    "heavy_repeat": 1,
    "put_n": 20,
    "get_n": 50,
    "load_n": 200,
    "s3_n": 30,
    "writers": 2,
    "writer_puts": 20,
    "memory_n": 500,
    "wait_n": 2,
    "poll_interval": 0.02,
    "cold_runs": 2,
}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="every workload, tiny N")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--heavy-repeat", type=int, default=3, help="repetitions of the heavy rows (default 3)"
    )
    parser.add_argument("--put-n", type=int, default=300, help="puts per repetition")
    parser.add_argument("--get-n", type=int, default=1000, help="gets per repetition")
    parser.add_argument("--load-n", type=int, default=10_000, help="keys to load locally")
    parser.add_argument("--s3-n", type=int, default=1000, help="keys to load over S3")
    parser.add_argument("--s3-delay-ms", type=float, default=20, help="delay per S3 request")
    parser.add_argument("--writers", type=int, default=8, help="writer processes")
    parser.add_argument("--writer-puts", type=int, default=1000, help="puts per writer")
    parser.add_argument("--memory-n", type=int, default=100_000, help="keys for the memory rows")
    parser.add_argument("--wait-n", type=int, default=8, help="waits per repetition")
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="wait poll interval, seconds"
    )
    parser.add_argument(
        "--cold-runs", type=int, default=7, help="processes per cold-start repetition"
    )
    parser.add_argument(
        "--contestants", default="", help="comma-separated names (default: all available)"
    )
    parser.add_argument(
        "--workloads",
        default="",
        help="comma-separated names (default: all): " + ", ".join(w.name for w in WORKLOADS),
    )
    parser.add_argument("--output-dir", default=HERE, help="where RESULTS.md and results.json go")
    parser.add_argument("--scratch-dir", default=None, help="where the stores are made")
    arguments = sys.argv[1:] if argv is None else argv
    options = parser.parse_args(arguments)
    if options.quick:
        # --quick sets the tiny defaults; flags given explicitly still win.
        given = {a.dest for a in parser._actions if any(o in arguments for o in a.option_strings)}
        for name, value in QUICK.items():
            if name not in given:
                setattr(options, name, value)
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    begun = time.perf_counter()
    wanted = {name for name in options.contestants.split(",") if name}
    specs, missing = [], {}
    for spec in all_specs():
        if wanted and spec.name not in wanted:
            continue
        try:
            spec.check()
        except UnavailableError as reason:
            missing[spec.name] = str(reason)
            continue
        specs.append(spec)
    unknown = wanted - {spec.name for spec in all_specs()}
    if unknown:
        raise SystemExit(f"unknown contestants: {', '.join(sorted(unknown))}")
    chosen = {name for name in options.workloads.split(",") if name}
    bench = Bench(options)
    workloads = [w(bench) for w in WORKLOADS if not chosen or w.name in chosen]
    results: dict[str, dict[str, Cell]] = {}
    try:
        for workload in workloads:
            log(f"{workload.name}: {workload.title} ({workload.size()})")
            repeat = options.heavy_repeat if workload.heavy else options.repeat
            results[workload.name] = run_workload(workload, specs, repeat)
    finally:
        bench.close()
        drop_benchmark_tables()
    targets = check_targets(results, specs) + check_sql_targets(results, specs)
    seconds = time.perf_counter() - begun
    table = markdown(workloads, results, specs, missing, targets, options, seconds)
    print(table)
    os.makedirs(options.output_dir, exist_ok=True)
    with open(os.path.join(options.output_dir, "RESULTS.md"), "w") as file:
        file.write("# Benchmark results\n\n" + table)
    with open(os.path.join(options.output_dir, "results.json"), "w") as file:
        json.dump(to_json(workloads, results, missing, targets, options), file, indent=2)
        file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
