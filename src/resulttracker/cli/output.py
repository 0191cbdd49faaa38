"""The one formatter of the command line: rows to a table, JSON, JSON Lines or CSV.

* :func:`output_options` is the one ``--format`` option of every command that
  prints rows;
* :func:`write_rows` and :func:`write_one` turn rows (mappings, usually from a
  generator) into the chosen format;
* :func:`terminal_safe` is the one escaping helper of every human format;
* :class:`ProgressBar` and :func:`note` write to stderr, so stdout stays parseable.

rich is imported only when a table or a progress bar is drawn: a command that
prints JSON (``resulttracker get``) never pays for it.

Conventions
-----------
* ``table`` when stdout is a terminal, else ``jsonl`` (``get`` and ``best``:
  ``json``); ``--format`` always wins.
* NaN and infinities: ``nan``/``inf``/``-inf`` in tables and CSV; the bare words
  ``NaN``/``Infinity``/``-Infinity`` in JSON and JSON Lines, as in the stored
  files and in :mod:`resulttracker.export` (Python's ``json`` and pandas read
  them; strict parsers such as ``jq`` may not).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..sorting import natural_key

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = [
    "OUTPUT_FORMATS",
    "PROGRESS_DELAY",
    "ProgressBar",
    "Row",
    "listing",
    "note",
    "output_options",
    "plural",
    "terminal_safe",
    "write_one",
    "write_rows",
]

#: The output formats of commands that print rows.
OUTPUT_FORMATS = ("table", "json", "jsonl", "csv")

#: Work shorter than this (seconds) shows no progress bar.
PROGRESS_DELAY = 1.0

F = TypeVar("F", bound=Callable[..., Any])
Row = Mapping[str, Any]


# -- the one output option -------------------------------------------------------------


def output_options(default: str = "jsonl") -> Callable[[F], F]:
    """The ``--format`` option shared by every command that prints rows.

    ``default`` is the format when stdout is not a terminal (on a terminal:
    ``table``). The command receives ``output_format`` already resolved.
    """

    def decorate(function: F) -> F:
        @click.option(
            "--format",
            "-f",
            "output_format",
            type=click.Choice(OUTPUT_FORMATS),
            default=None,
            help=f"Output format [default: table on a terminal, else {default}].",
        )
        @functools.wraps(function)
        def wrapper(*args: Any, output_format: str | None, **kwargs: Any) -> Any:
            chosen = output_format or ("table" if stdout_is_terminal() else default)
            return function(*args, output_format=chosen, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (tables are then the default format)."""
    return sys.stdout.isatty()


# -- escaping --------------------------------------------------------------------------

# What a terminal would act on rather than show: C0 and C1 control characters
# (ESC, BEL, CSI...), DEL, and the Unicode controls that reorder text (bidi
# overrides and isolates, as in "Trojan Source") or break lines.
_TERMINAL_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# In JSON text, C0 characters are always escaped by json.dumps; these are not.
_JSON_UNESCAPED_CONTROLS = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    named = _NAMED_ESCAPES.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on rather than show
    written as a Python-style escape (``\\x1b``, ``\\n``, ``\\u202e``).

    The one escaping helper of every human format: table cells and headers,
    notes and error lines. A backslash already in the text is left as it is.
    """
    return _TERMINAL_CONTROLS.sub(_escaped, text)


# -- cells -----------------------------------------------------------------------------


def _json(value: Any, **options: Any) -> str:
    # Data stays exact and the JSON valid: the characters json.dumps leaves raw
    # (DEL, C1, bidi controls) become \uXXXX escapes of themselves.
    text = json.dumps(value, ensure_ascii=False, allow_nan=True, **options)
    return _JSON_UNESCAPED_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _json_text(value: Any) -> str:
    from ..export import json_text

    return json_text(value)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; nan, inf, -inf
    if isinstance(value, (list, dict)):
        return _json_text(value)
    return str(value)


def human(value: Any) -> str:
    """A value as a table shows it: floats to six significant digits (``nan``,
    ``inf``), lists and objects as JSON, ``None`` as nothing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g")  # nan, inf, -inf as such
    if isinstance(value, (list, dict)):
        return _json_text(value)
    return str(value)


def human_statistic(mean: Any, sem: Any) -> str:
    """``mean ± sem`` rounded to what the uncertainty justifies (see
    :func:`resulttracker.stats.format_statistic`); other values as they are."""
    if _float_like(mean) and (sem is None or _float_like(sem)):
        from ..stats import format_statistic

        return format_statistic(mean, sem) if sem is not None else human(mean)
    return human(mean) if sem is None else f"{human(mean)} ± {human(sem)}"


def _float_like(value: Any) -> bool:
    """A number that converts to a float (an int written by another writer may
    be far beyond the float range; it is then shown digit for digit)."""
    if not _numeric(value):
        return False
    return isinstance(value, float) or abs(value) <= sys.float_info.max


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- rows ------------------------------------------------------------------------------


def _columns_of(rows: Sequence[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def write_rows(
    rows: Iterable[Row],
    output_format: str,
    columns: Sequence[str] | None = None,
    *,
    merge_statistics: bool = False,
) -> int:
    """Print ``rows`` in ``output_format``; return how many were printed.

    Parameters
    ----------
    rows : iterable of mappings
        One mapping of column name to value per row; a missing name is an empty
        cell (CSV, table) or is left out (JSON, JSON Lines). JSON Lines and JSON
        stream the rows; CSV and table need ``columns`` or read every row first.
    output_format : {"table", "json", "jsonl", "csv"}
    columns : sequence of str, optional
        The columns, in order; by default every name met, in order of appearance.
    merge_statistics : bool
        In a table, show ``name/mean`` and ``name/sem`` as one ``name`` column
        of ``mean ± sem``.
    """
    if output_format == "jsonl":
        count = 0
        for row in rows:
            click.echo(_json(_select(row, columns)))
            count += 1
        return count
    if output_format == "json":
        count = 0
        for row in rows:
            click.echo(("[" if count == 0 else ",\n ") + _json(_select(row, columns)), nl=False)
            count += 1
        click.echo("]" if count else "[]")
        return count
    listed: Sequence[Row] = rows if isinstance(rows, Sequence) else list(rows)
    names = list(columns) if columns is not None else _columns_of(listed)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_csv_cell(row.get(name)) for name in names] for row in listed)
        # color=True: click would otherwise strip what looks like ANSI codes from
        # the data when stdout is not a terminal. CSV keeps the data exact.
        click.echo(buffer.getvalue(), nl=False, color=True)
        return len(listed)
    if output_format == "table":
        _print_table(listed, names, merge_statistics=merge_statistics)
        return len(listed)
    raise ValueError(f"unknown output format {output_format!r}")


def _select(row: Row, columns: Sequence[str] | None) -> dict[str, Any]:
    if columns is None:
        return dict(row)
    return {name: row[name] for name in columns if name in row}


def _console() -> Console:
    from rich.console import Console

    terminal = stdout_is_terminal()
    # Off a terminal there is no width to fit: never wrap a cell.
    return Console(
        file=sys.stdout, width=None if terminal else 1_000_000, highlight=False, markup=False
    )


def _print_table(rows: Sequence[Row], names: Sequence[str], *, merge_statistics: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Each shown column: header and the function that renders a row's cell.
    shown: list[tuple[str, Callable[[Row], Any], Callable[[Row], str]]] = []
    merged: set[str] = set()
    if merge_statistics:
        for name in names:
            base, _, statistic = name.rpartition("/")
            if statistic == "mean" and base and f"{base}/sem" in names:
                merged.update((name, f"{base}/sem"))
    for name in names:
        base, _, statistic = name.rpartition("/")
        if name not in merged:
            shown.append((name, _getter(name), _cell(name)))
        elif statistic == "mean":
            header = base if base not in names else f"{base} (mean ± sem)"
            shown.append((header, _getter(name), _statistic_cell(name, f"{base}/sem")))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header, value_of, _ in shown:
        right = any(_numeric(value_of(row)) for row in rows) and not any(
            isinstance(value_of(row), str) for row in rows
        )
        table.add_column(
            Text(terminal_safe(header)), justify="right" if right else "left", overflow="fold"
        )
    for row in rows:
        table.add_row(*(Text(terminal_safe(render(row))) for _, _, render in shown))
    _console().print(table)


def _getter(name: str) -> Callable[[Row], Any]:
    return lambda row: row.get(name)


def _cell(name: str) -> Callable[[Row], str]:
    return lambda row: human(row.get(name))


def _statistic_cell(mean: str, sem: str) -> Callable[[Row], str]:
    return lambda row: human_statistic(row.get(mean), row.get(sem))


def write_one(row: Row, output_format: str) -> None:
    """Print one mapping: an indented JSON object, a one-line JSON object, a
    CSV header and row, or a two-column table of names and values (``key``
    first, then the names in natural order)."""
    if output_format == "json":
        click.echo(_json(dict(row), indent=2))
    elif output_format == "table":
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("name")
        table.add_column("value", overflow="fold")
        for name in sorted(row, key=lambda name: (name != "key", natural_key(name))):
            table.add_row(Text(terminal_safe(name)), Text(terminal_safe(human(row[name]))))
        _console().print(table)
    else:
        write_rows([row], output_format)


# -- stderr ----------------------------------------------------------------------------


class ProgressBar:
    """A progress bar on stderr, shown only on a terminal and only once the work
    has taken more than :data:`PROGRESS_DELAY` seconds.

    Use as a context manager; call :meth:`update` as the work advances.
    """

    def __init__(self, description: str) -> None:
        self._description = description
        self._enabled = sys.stderr.isatty()
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._task: Any = None

    def update(self, done: int, total: int | None = None, description: str | None = None) -> None:
        """Record progress: ``done`` units out of ``total`` (``None``: unknown)."""
        if not self._enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._started < PROGRESS_DELAY:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=total)
        self._progress.update(
            self._task, completed=done, total=total, description=description or self._description
        )

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def format_time(modified: datetime | None, output_format: str) -> str | None:
    """A modification time as a table shows it (local time, seconds) or as the
    machine formats do (ISO 8601 with its offset)."""
    if modified is None:
        return None
    if output_format == "table":
        return modified.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return modified.isoformat()


def note(message: str) -> None:
    """A line of information on stderr (stdout stays parseable)."""
    click.echo(terminal_safe(message), err=True)


def plural(count: int, noun: str) -> str:
    """``1 key``, ``2 keys``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def listing(keys: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` keys, quoted, and how many more."""
    shown = ", ".join(repr(key) for key in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
