"""``compact`` and ``watch``: snapshots in the store and the change feed."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ..api import StoreTracker
from .app import CommandError, cli, settings
from .options import prefix_argument, seconds_option
from .output import (
    format_time,
    human,
    output_options,
    stdout_is_terminal,
    terminal_safe,
    write_one,
    write_rows,
)

if TYPE_CHECKING:
    from ..model import Change
    from .output import Row


def _store_tracker() -> StoreTracker:
    tracker = settings().existing_tracker()
    if not isinstance(tracker, StoreTracker):
        raise CommandError(f"{tracker!r} keeps no snapshots and has no change feed")
    return tracker


@cli.command()
@prefix_argument()
@seconds_option("--grace", default=600.0, help="Remove snapshots superseded for longer than this.")
@output_options(default="json")
def compact(prefix: str | None, grace: float, output_format: str) -> None:
    """Write a snapshot of the keys under PREFIX into the store.

    Later reads (show, summary, best, export, report, the dashboard) then list
    the keys with their versions and read only those changed since: on S3, a
    few requests instead of one per key. Safe while jobs write; run it again
    from time to time (each run reads only what changed since the last).
    """
    try:
        report = _store_tracker().compact(prefix, grace=grace)
    except NotImplementedError as error:
        raise CommandError(str(error)) from error
    row = {
        "snapshot": report.name,
        "prefix": report.prefix,
        "keys": report.keys,
        "read": report.read,
        "bytes": report.bytes,
        "seconds": round(report.seconds, 3),
        "removed": report.removed,
    }
    write_one(row, output_format)


def _change_row(change: Change, output_format: str) -> dict[str, Any]:
    record = change.record
    return {
        "kind": change.kind,
        "key": change.key,
        "results": None if record is None else record.results,
        "modified": None if record is None else format_time(record.modified, output_format),
    }


def _change_line(row: Row) -> str:
    results = row["results"]
    shown = "" if results is None else "  ".join(f"{n}={human(v)}" for n, v in results.items())
    line = f"{row['modified'] or '-':19}  {row['kind']:6}  {row['key']}  {shown}".rstrip()
    return terminal_safe(line)


@cli.command()
@prefix_argument()
@seconds_option("--interval", default=2.0, zero=False, help="Time between two looks at the store.")
@click.option(
    "--count", type=click.IntRange(min=1), default=None, metavar="N", help="Stop after N changes."
)
@seconds_option(
    "--timeout",
    "-t",
    default=None,
    help="Stop after this long (exit status 0) [default: run until interrupted].",
)
@click.option(
    "--new", "only_new", is_flag=True, help="Skip the keys already there; show only changes."
)
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(["jsonl", "table"]),
    default=None,
    help="jsonl: one JSON object per change; table: one line per change "
    "[default: table on a terminal, else jsonl].",
)
def watch(
    prefix: str | None,
    interval: float,
    count: int | None,
    timeout: float | None,
    only_new: bool,
    output_format: str | None,
) -> None:
    """Print the changes to the keys under PREFIX as they happen, like tail -f.

    First every key present (unless --new), then each write and deletion:
    one JSON object per change with kind ("put" or "delete"), key, results
    and modified. Each look at the store lists the keys and reads only the
    changed ones (on S3: one LIST request per 1,000 keys when nothing changed).
    """
    chosen = output_format or ("table" if stdout_is_terminal() else "jsonl")
    feed = _store_tracker().watch(prefix)
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    first = True
    try:
        while True:
            changes = feed.poll()
            if not (first and only_new):
                for change in changes:
                    row = _change_row(change, chosen)
                    if chosen == "jsonl":
                        write_rows([row], "jsonl")
                    else:
                        click.echo(_change_line(row))
                    shown += 1
                    if count is not None and shown >= count:
                        sys.stdout.flush()
                        return
                sys.stdout.flush()
            first = False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            time.sleep(interval if remaining is None else min(interval, remaining))
    except KeyboardInterrupt:
        return
