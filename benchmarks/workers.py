"""What ``run.py``'s worker processes do: write keys, wait for keys, measure memory.

Workers are started with the ``spawn`` method and rebuild their contestant from
its name and folder (see :func:`contestants.spec_named`), so nothing but plain
data crosses the process boundary. Times are ``time.perf_counter()`` values,
which on Linux read the system-wide monotonic clock and so compare across
processes.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from contestants import spec_named


def serve(connection: Any) -> None:
    """Run the commands the parent sends (``(name, kwargs)``) until it sends ``None``."""
    commands = {"write_keys": write_keys, "wait_keys": wait_keys}
    while True:
        message = connection.recv()
        if message is None:
            return
        name, kwargs = message
        commands[name](connection, **kwargs)


def _sleep_until(moment: float) -> None:
    remaining = moment - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)


def write_keys(
    connection: Any, *, spec: str, folder: str, worker: int, count: int, results: dict[str, Any]
) -> None:
    """One of the many writers: build, report ready, start at the parent's signal."""
    contestant = spec_named(spec).local(folder)  # type: ignore[misc]
    connection.send("ready")
    _sleep_until(connection.recv())
    errors = 0
    first_error = ""
    start = time.perf_counter()
    for index in range(count):
        try:
            contestant.put(f"w{worker:02d}-{index:06d}", results)
        except Exception as error:  # counted: lost writes are a result, not a crash
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"[:200]
    end = time.perf_counter()
    contestant.close()
    connection.send({"start": start, "end": end, "errors": errors, "first_error": first_error})


def wait_keys(connection: Any, *, spec: str, folder: str, poll_interval: float) -> None:
    """The waiting side of the wait workload: for each key sent, say "armed",
    wait for it, and send back the moment ``wait`` returned."""
    contestant = spec_named(spec).local(folder)  # type: ignore[misc]
    connection.send("ready")
    while (key := connection.recv()) is not None:
        connection.send("armed")
        try:
            contestant.wait(key, timeout=30.0, poll_interval=poll_interval)
            connection.send(time.perf_counter())
        except Exception as error:
            connection.send(f"{type(error).__name__}: {error}"[:200])
    contestant.close()


# -- memory (each measurement in a fresh interpreter) ------------------------------------


def _status_kib(field: str) -> int:
    """``VmRSS`` (current) or ``VmHWM`` (peak) resident memory, in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    # No /proc (macOS): the peak is all getrusage knows (in bytes there), and it
    # stands in for the current size too, which overstates the baseline.
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _reset_peak() -> bool:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def deep_size(value: object) -> int:
    """Bytes held by ``value`` and every dict/list/tuple item in it, each object once."""
    seen: set[int] = set()
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return total


def measure_memory(connection: Any, *, spec: str, folder: str, expected: int) -> None:
    """Peak RSS above the ready interpreter while ``load_all`` loads every key."""
    contestant = spec_named(spec).local(folder)  # type: ignore[misc]
    gc.collect()
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    loaded = contestant.load_all()
    peak = _status_kib("VmHWM")
    if len(loaded) != expected:
        connection.send({"error": f"loaded {len(loaded)} keys, expected {expected}"})
        return
    connection.send(
        {
            "baseline_kib": baseline,
            "peak_kib": peak,
            "peak_reset": reset,
            "decoded_bytes": deep_size(loaded),
        }
    )


def measure_export(connection: Any, *, spec: str, folder: str, target: str) -> None:
    """Peak RSS while exporting every key to Parquet, for trackers that can export."""
    contestant = spec_named(spec).local(folder)  # type: ignore[misc]
    export = getattr(getattr(contestant, "tracker", None), "export", None)
    if export is None:
        connection.send({"skipped": "this contestant cannot export"})
        return
    gc.collect()
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    export(target, format="parquet")
    peak = _status_kib("VmHWM")
    connection.send({"baseline_kib": baseline, "peak_kib": peak, "peak_reset": reset})
