"""Commands that read: ``get``, ``ls``, ``show``, ``best``, ``summary`` and ``wait``.

Each parses its arguments, calls the library (selection, sorting, best-of and
summaries live in :mod:`resulttracker.query` and :mod:`resulttracker.stats`)
and hands rows to the formatter. Tables list keys in natural order
(``trial/2`` before ``trial/10``); machine formats keep the library's order
(sorted by code point), so that they can stream. A base that does not exist
is an error (exit status 1), not an empty store; ``wait`` says so once and
keeps waiting, since jobs may create it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import click

from ..model import Record, ResultType
from ..sorting import natural_key
from ..validation import normalize_keys
from .app import CommandError, InputError, cli, missing_base, settings
from .options import key_argument, prefix_argument, seconds_option, where_option
from .output import (
    OUTPUT_FORMATS,
    Row,
    format_time,
    human_statistic,
    note,
    output_options,
    stdout_is_terminal,
    terminal_safe,
    write_one,
    write_rows,
)


def record_row(record: Record, columns: Sequence[str] | None = None) -> dict[str, ResultType]:
    """A record as a row: ``key``, then its results (only ``columns``, if given)."""
    if "key" in record.results:
        raise CommandError(
            f"key {record.key!r} has a result named 'key', which clashes with the key "
            f"column; read it with 'resulttracker get {record.key}'"
        )
    results = record.results
    if columns is not None:
        results = {name: results[name] for name in columns if name in results}
    return {"key": record.key, **results}


def _by_key(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda record: natural_key(record.key))


@cli.command()
@key_argument("key")
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="json",
    show_default=True,
    help="Output format.",
)
def get(key: str, output_format: str) -> None:
    """Print the results of KEY; exit status 1 if it has none."""
    found = settings()
    tracker = found.tracker()
    results = tracker.get(key)
    if not results and key not in tracker:  # an empty document is printed as such
        if not tracker.exists():
            raise missing_base(found.base)
        raise CommandError(f"no results at key {key!r}")
    write_one(results, output_format)


@cli.command(name="ls")
@prefix_argument()
@click.option(
    "--long", "-l", "long", is_flag=True, help="Add last-modified time and number of results."
)
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="Output format [default: one key per line; with --long, table on a terminal, else jsonl].",
)
def list_keys(prefix: str | None, long: bool, output_format: str | None) -> None:
    """List the keys under PREFIX (all keys by default)."""
    tracker = settings().existing_tracker()
    terminal = stdout_is_terminal()
    if not long:
        keys: Iterable[str] = tracker.keys(prefix)
        if terminal:
            keys = sorted(keys, key=natural_key)
        if output_format is None:
            for key in keys:
                click.echo(terminal_safe(key) if terminal else key)
        else:
            write_rows(({"key": key} for key in keys), output_format, ["key"])
        return
    chosen = output_format or ("table" if terminal else "jsonl")
    records: Iterable[Record] = tracker.scan(prefix)
    if chosen == "table":
        records = _by_key(records)
    rows = (
        {
            "key": record.key,
            "modified": format_time(record.modified, chosen),
            "results": len(record.results),
        }
        for record in records
    )
    write_rows(rows, chosen, ["key", "modified", "results"])


def _split_columns(values: Iterable[str]) -> list[str]:
    names = [name.strip() for value in values for name in value.split(",")]
    if any(not name for name in names):
        raise InputError("--columns takes result names separated by commas")
    return names


@cli.command()
@prefix_argument()
@where_option()
@click.option("--sort", "sort_by", metavar="NAME", help="Sort by this result (or NAME/mean).")
@click.option("--desc", is_flag=True, help="Sort in descending order.")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Show at most N keys.")
@click.option(
    "--columns",
    "-c",
    "columns",
    multiple=True,
    metavar="A,B,...",
    help="Only these results (a metric name stands for NAME/mean and NAME/sem).",
)
@output_options()
def show(
    prefix: str | None,
    where: tuple[str, ...],
    sort_by: str | None,
    desc: bool,
    limit: int | None,
    columns: tuple[str, ...],
    output_format: str,
) -> None:
    """Show the results of every key under PREFIX, one row per key.

    In a table, statistics pairs NAME/mean and NAME/sem show as one column
    'mean ± sem'; other formats keep every result as stored.

    \b
    Example:
      resulttracker show exp1 --where 'lr >= 0.01' --sort loss --limit 5
    """
    from ..query import parse_where, sort_records
    from ..stats import result_names

    wanted = _split_columns(columns)
    condition = parse_where(list(where))
    if desc and sort_by is None:
        raise InputError("--desc needs --sort NAME")
    records: Iterable[Record] = settings().existing_tracker().select(prefix, condition)
    streaming = output_format in ("json", "jsonl") and not wanted and sort_by is None
    if streaming:
        rows: Iterable[Row] = (record_row(record) for record in records)
        write_rows(rows if limit is None else itertools.islice(rows, limit), output_format)
        return
    listed = _by_key(records) if output_format == "table" else list(records)
    if sort_by is not None:
        listed = sort_records(listed, sort_by, descending=desc)
    if limit is not None:
        listed = listed[:limit]
    names = result_names(listed, wanted)
    if output_format == "table" and not listed:
        note("no keys" + (f" under {prefix!r}" if prefix else "") + (" match" if where else ""))
        return
    selected = names if wanted else None
    write_rows(
        [record_row(record, selected) for record in listed],
        output_format,
        ["key", *names],
        merge_statistics=True,
    )


@cli.command()
@click.argument("metric")
@prefix_argument()
@where_option()
@click.option("--max", "maximize", is_flag=True, help="The highest value wins (default: lowest).")
@output_options(default="json")
def best(
    metric: str, prefix: str | None, where: tuple[str, ...], maximize: bool, output_format: str
) -> None:
    """Print the key with the best METRIC (a result name, or NAME for NAME/mean).

    Keys where METRIC is missing, text or NaN are skipped; exit status 1 when
    no key has a usable value, 2 when no key has METRIC at all.
    """
    from ..query import best_record, parse_where

    condition = parse_where(list(where))
    records = settings().existing_tracker().select(prefix, condition)
    record = best_record(
        records,
        metric,
        mode="max" if maximize else "min",
        prefix=prefix,
        where=condition,
        require_metric=True,
    )
    write_one(record_row(record), output_format)


@cli.command()
@prefix_argument()
@click.option(
    "--depth",
    "-d",
    type=click.IntRange(min=1),
    default=None,
    help="Group keys by their first K path segments [default: all but the last].",
    metavar="K",
)
@where_option()
@output_options()
def summary(
    prefix: str | None, depth: int | None, where: tuple[str, ...], output_format: str
) -> None:
    """Aggregate replicas: mean ± sem and n of every metric, per group of keys.

    Keys are grouped by their first K path segments (e.g. exp/lr0.1/seed3 with
    --depth 2 belongs to exp/lr0.1). Replicas that report NAME/mean and NAME/sem
    are combined with propagated errors; plain values are summarized.
    """
    from ..query import parse_where
    from ..stats import aggregate, summary_rows

    condition = parse_where(list(where))
    records = settings().existing_tracker().select(prefix, condition)
    rows: Iterable[dict[str, Any]] = summary_rows(
        aggregate(records, by=-1 if depth is None else depth)
    )
    if output_format != "table":
        write_rows(rows, output_format, ["group", "metric", "mean", "sem", "n", "nan_count"])
        return
    table_rows = [
        {
            "group": row["group"],
            "metric": row["metric"],
            "mean ± sem": human_statistic(row["mean"], row["sem"]),
            "n": row["n"],
        }
        for row in sorted(rows, key=lambda row: (natural_key(row["group"]), row["metric"]))
    ]
    if not table_rows:
        note("no numeric results to summarize")
        return
    write_rows(table_rows, "table", ["group", "metric", "mean ± sem", "n"])


@cli.command()
@key_argument("keys", nargs=-1, required=True, metavar="KEY...")
@seconds_option(
    "--timeout",
    "-t",
    default=None,
    help="Give up after this long (exit status 1) [default: wait forever].",
)
@seconds_option("--interval", default=0.5, zero=False, help="Time between two looks at the store.")
def wait(keys: tuple[str, ...], timeout: float | None, interval: float) -> None:
    """Block until every KEY has results.

    Exit status 0 once they all do, 1 on timeout (the message names the keys
    still missing). A base that does not exist yet is said once, and waited for.
    """
    names = normalize_keys(keys)
    found = settings()
    tracker = found.tracker()
    if not tracker.exists():
        from .._urls import redact_url

        note(f"the base {redact_url(found.base)!r} does not exist yet; waiting for it")
    tracker.wait_many(
        names, timeout=math.inf if timeout is None else timeout, poll_interval=interval
    )
