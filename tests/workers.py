"""Functions run in child processes by the concurrency tests (importable by ``spawn``)."""

from __future__ import annotations

from typing import Any

from resulttracker import FsspecResultTracker


def write_distinct(base: str, options: dict[str, Any], writer: int, count: int) -> None:
    tracker = FsspecResultTracker(base, **options)
    for number in range(count):
        tracker[f"w{writer}/k{number}"] = {"writer": writer, "number": number, "pad": "x" * 200}


def overwrite_one(base: str, options: dict[str, Any], writer: int, count: int) -> None:
    tracker = FsspecResultTracker(base, **options)
    for number in range(count):
        # Every write is internally consistent: all values derive from (writer, number).
        tracker["shared"] = {
            "writer": writer,
            "number": number,
            **{f"v{index}": writer * 1_000_000 + number for index in range(50)},
        }


def read_one(base: str, options: dict[str, Any], count: int) -> list[dict[str, Any]]:
    tracker = FsspecResultTracker(base, **options)
    return [tracker.get("shared") for _ in range(count)]
