"""Functions run in child processes by the concurrency and reliability tests.

They live in an importable module so that ``spawn`` children can find them, and
open their tracker with ``open_tracker`` so that they work on every backend.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from resulttracker import open_tracker


def consistent_results(writer: int, number: int, width: int = 50) -> dict[str, Any]:
    """A write whose every value derives from ``(writer, number)``, so a mix of two
    writes is detectable."""
    return {
        "writer": writer,
        "number": number,
        **{f"v{index}": writer * 1_000_000 + number for index in range(width)},
    }


def write_distinct(base: str, options: dict[str, Any], writer: int, count: int) -> None:
    tracker = open_tracker(base, **options)
    for number in range(count):
        tracker[f"w{writer}/k{number}"] = {"writer": writer, "number": number, "pad": "x" * 200}


def overwrite_one(base: str, options: dict[str, Any], writer: int, count: int) -> None:
    tracker = open_tracker(base, **options)
    for number in range(count):
        tracker["shared"] = consistent_results(writer, number)


def read_one(base: str, options: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Read the shared key ``count`` times, starting once the first write has landed
    (on a loaded machine the writers may start late)."""
    tracker = open_tracker(base, **options)
    tracker.wait("shared", timeout=120, poll_interval=0.001)
    return [tracker.get("shared") for _ in range(count)]


def overwrite_forever(base: str, options: dict[str, Any]) -> None:
    """Overwrite keys ``k0``..``k4`` in turn until killed, printing each completed put."""
    tracker = open_tracker(base, **options)
    number = 0
    while True:
        tracker[f"k{number % 5}"] = consistent_results(os.getpid(), number, width=400)
        print(number, flush=True)
        number += 1


if __name__ == "__main__":
    overwrite_forever(sys.argv[1], json.loads(sys.argv[2]))
