"""The ``resulttracker`` command line, built on click (parsing) and rich (tables, progress).

Layout
------
* :class:`Settings` holds the global options and opens the tracker on first use.
* :func:`output_options` is the one ``--format`` option of every command that
  prints rows; :func:`write_rows` and :func:`write_one` are the one formatter
  that turns rows (mappings, usually from a generator) into a table, JSON,
  JSON Lines or CSV.
* :class:`ResultTrackerGroup` turns every library error into a one-line
  ``Error: ...`` on stderr with the exit status of :func:`exit_status_of`
  (``--debug`` shows the traceback instead).

Output conventions
------------------
* ``table`` when stdout is a terminal, else ``jsonl`` (``get`` and ``best``:
  ``json``); ``--format`` always wins. Tables order keys naturally
  (``trial/2`` before ``trial/10``); machine formats keep the library's order
  (sorted by code point), so that they can stream.
* NaN and infinities: ``nan``/``inf``/``-inf`` in tables and CSV; the bare words
  ``NaN``/``Infinity``/``-Infinity`` in JSON and JSON Lines, as in the stored
  files and in :mod:`resulttracker.export` (Python's ``json`` and pandas read
  them; strict parsers such as ``jq`` may not).
* Exit status: 0 ok; 1 not found, timeout, check failed, store failure; 2 bad
  usage or invalid input (nothing is written then).
"""

from __future__ import annotations

import csv
import errno
import functools
import importlib
import io
import itertools
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import stats
from ._urls import redact_url
from ._version import version
from .api import Record, ResultTracker
from .errors import (
    CorruptResultError,
    ExportError,
    InvalidKeyError,
    InvalidQueryError,
    InvalidResultError,
    MetricNotFoundError,
    ResultTrackerError,
    StatisticsError,
)
from .export import FORMATS as EXPORT_FORMATS
from .query import parse_where
from .registry import open_tracker
from .transfer import CopyReport
from .transfer import copy as copy_results
from .validation import Results, ResultType, normalize_key, normalize_keys, normalize_prefix

__all__ = [
    "OUTPUT_FORMATS",
    "ResultTrackerGroup",
    "Settings",
    "cli",
    "exit_status_of",
    "natural_key",
    "output_options",
    "parse_value",
    "run",
    "write_one",
    "write_rows",
]

#: Where results are when neither ``--base`` nor ``$RESULTTRACKER_BASE`` says.
DEFAULT_BASE = "./results"
BASE_VARIABLE = "RESULTTRACKER_BASE"

#: The output formats of commands that print rows.
OUTPUT_FORMATS = ("table", "json", "jsonl", "csv")

#: Exit statuses.
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: Work shorter than this (seconds) shows no progress bar.
PROGRESS_DELAY = 1.0

DASHBOARD_HINT = "the dashboard needs: pip install 'resulttracker[dashboard]'"

F = TypeVar("F", bound=Callable[..., Any])
Row = Mapping[str, Any]


# -- errors --------------------------------------------------------------------------


class CommandError(click.ClickException):
    """A one-line error printed as ``Error: message``; exit status 1."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        # One line, whatever the library said: the first line carries the message.
        super().__init__(message.strip().splitlines()[0] if message.strip() else "failed")


class InputError(CommandError):
    """A one-line error about the user's input; exit status 2."""

    exit_code = EXIT_USAGE


def _error(message: str, status: int) -> CommandError:
    return InputError(message) if status == EXIT_USAGE else CommandError(message)


def exit_status_of(error: BaseException) -> int:
    """The exit status for a library error: 2 when the user's input is at fault
    (nothing was written), 1 otherwise (not found, timeout, store failure...)."""
    usage = (
        InvalidKeyError,
        InvalidResultError,
        InvalidQueryError,
        MetricNotFoundError,
        ExportError,
        StatisticsError,
        ImportError,
        NotImplementedError,
    )
    return EXIT_USAGE if isinstance(error, usage) else EXIT_FAILURE


def _message_of(error: BaseException) -> str:
    if isinstance(error, InvalidQueryError) and error.condition is not None:
        where = f" (at position {error.position})" if error.position is not None else ""
        return f"invalid --where {error.condition!r}: {error.reason}{where}"
    if isinstance(error, CorruptResultError):
        return f"{error}; 'resulttracker check' lists every corrupt key"
    if isinstance(error, ResultTrackerError):
        return str(error)
    if isinstance(error, (ImportError, NotImplementedError)):
        return str(error)
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)"


class ResultTrackerGroup(click.Group):
    """A click group that turns exceptions into one-line errors with an exit status.

    With ``--debug`` the exception propagates, traceback and all.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            settings = ctx.find_object(Settings)
            if settings is not None and settings.debug:
                raise
            if isinstance(error, OSError) and error.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (`resulttracker show | head`)
            raise _error(_message_of(error), exit_status_of(error)) from error


# -- global settings -----------------------------------------------------------------


def parse_storage_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs to storage options.

    A value that reads as JSON other than a string (``true``, ``5``, ``2.5``,
    ``null``, ``{"region_name": "eu-west-1"}``) is passed as that value; any
    other text is passed as a string (write ``'key="123"'`` to pass digits as text).

    Raises
    ------
    InputError
        A pair has no ``=`` or an empty key (exit status 2).
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name.strip():
            raise InputError(
                f"storage option {pair!r} is not KEY=VALUE (e.g. -o endpoint_url=http://...)"
            )
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        options[name.strip()] = value
    return options


@dataclass
class Settings:
    """The global options, and the tracker they name (opened on first use)."""

    base: str
    option_pairs: tuple[str, ...] = ()
    debug: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    _tracker: ResultTracker | None = None

    def tracker(self) -> ResultTracker:
        """The tracker at ``--base``."""
        if self._tracker is None:
            self._tracker = self.open(self.base, self.options)
        return self._tracker

    def open(self, url: str, options: Mapping[str, Any] | None = None) -> ResultTracker:
        """Open the tracker at ``url`` with ``options`` (default: the ``-o`` options)."""
        try:
            return open_tracker(url, **(self.options if options is None else options))
        except ImportError:
            raise
        except (TypeError, ValueError) as error:
            raise InputError(f"cannot open {redact_url(url)!r}: {error}") from error


def _settings() -> Settings:
    return click.get_current_context().find_object(Settings) or Settings(DEFAULT_BASE)


# -- output --------------------------------------------------------------------------


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
            chosen = output_format or ("table" if _stdout_is_terminal() else default)
            return function(*args, output_format=chosen, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _console() -> Console:
    terminal = _stdout_is_terminal()
    # Off a terminal there is no width to fit: never wrap a cell.
    return Console(
        file=sys.stdout, width=None if terminal else 1_000_000, highlight=False, markup=False
    )


_DIGITS = re.compile(r"([0-9]+)")


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders digit runs by value: ``trial/2`` before ``trial/10``.

    Ties (``1`` and ``01``) fall back to the text itself, so the order is total.
    """
    parts: list[Any] = _DIGITS.split(text)
    parts[1::2] = [int(digits) for digits in parts[1::2]]
    return (*parts, text)


def _json(value: Any, **options: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True, **options)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; nan, inf, -inf
    return str(value)


def _human(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g")  # nan, inf, -inf as such
    return str(value)


def _human_statistic(mean: Any, sem: Any) -> str:
    if _numeric(mean) and (sem is None or _numeric(sem)):
        return stats.format_statistic(mean, sem) if sem is not None else _human(mean)
    return _human(mean) if sem is None else f"{_human(mean)} ± {_human(sem)}"


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
        click.echo(buffer.getvalue(), nl=False)
        return len(listed)
    if output_format == "table":
        _print_table(listed, names, merge_statistics=merge_statistics)
        return len(listed)
    raise ValueError(f"unknown output format {output_format!r}")


def _select(row: Row, columns: Sequence[str] | None) -> dict[str, Any]:
    if columns is None:
        return dict(row)
    return {name: row[name] for name in columns if name in row}


def _print_table(rows: Sequence[Row], names: Sequence[str], *, merge_statistics: bool) -> None:
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
        table.add_column(Text(header), justify="right" if right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(render(row)) for _, _, render in shown))
    _console().print(table)


def _getter(name: str) -> Callable[[Row], Any]:
    return lambda row: row.get(name)


def _cell(name: str) -> Callable[[Row], str]:
    return lambda row: _human(row.get(name))


def _statistic_cell(mean: str, sem: str) -> Callable[[Row], str]:
    return lambda row: _human_statistic(row.get(mean), row.get(sem))


def write_one(row: Row, output_format: str) -> None:
    """Print one mapping: an indented JSON object, a one-line JSON object, a
    CSV header and row, or a two-column table of names and values (``key``
    first, then the names in natural order)."""
    if output_format == "json":
        click.echo(_json(dict(row), indent=2))
    elif output_format == "table":
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("name")
        table.add_column("value", overflow="fold")
        for name in sorted(row, key=lambda name: (name != "key", natural_key(name))):
            table.add_row(Text(name), Text(_human(row[name])))
        _console().print(table)
    else:
        write_rows([row], output_format)


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


def _note(message: str) -> None:
    """A line of information on stderr (stdout stays parseable)."""
    click.echo(message, err=True)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _listing(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(key) for key in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# -- shared options and completion ---------------------------------------------------


def _complete_keys(
    ctx: click.Context, parameter: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete a key or prefix from the store named on the command line so far."""
    params = ctx.find_root().params
    try:
        settings = Settings(
            params.get("base") or DEFAULT_BASE,
            options=parse_storage_options(params.get("storage_option") or ()),
        )
        parent = incomplete.rpartition("/")[0]
        keys = itertools.islice(settings.tracker().keys(parent or None), 10_000)
        return [CompletionItem(key) for key in keys if key.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def _key_argument(name: str, **kwargs: Any) -> Callable[[F], F]:
    return click.argument(name, shell_complete=_complete_keys, **kwargs)


def _prefix_argument() -> Callable[[F], F]:
    return click.argument("prefix", required=False, shell_complete=_complete_keys)


def _where_option() -> Callable[[F], F]:
    return click.option(
        "--where",
        "-w",
        "where",
        multiple=True,
        metavar="COND",
        help="Keep keys whose results satisfy COND, e.g. 'loss < 0.5' (repeat: all must hold).",
    )


def _dest_options() -> Callable[[F], F]:
    return click.option(
        "--dest-option",
        "dest_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Storage option for the destination (default: the global -o options).",
    )


# -- the group -----------------------------------------------------------------------

_EPILOG = """\b
Shell completion (bash; use zsh_source or fish_source for those shells):
  eval "$(_RESULTTRACKER_COMPLETE=bash_source resulttracker)"

Exit status: 0 ok, 1 not found / timeout / check failed, 2 bad usage or input.
"""


def print_version(ctx: click.Context, _parameter: click.Parameter, value: bool) -> None:
    """Print ``resulttracker, version X`` and exit, as click's ``version_option`` would.

    The version is read from the package metadata only here, when ``--version``
    is given: the lookup would otherwise lengthen the start of every command.
    """
    if value and not ctx.resilient_parsing:
        click.echo(f"resulttracker, version {version()}")
        ctx.exit()


@click.group(cls=ResultTrackerGroup, epilog=_EPILOG)
@click.option(
    "--base",
    "-b",
    envvar=BASE_VARIABLE,
    default=DEFAULT_BASE,
    show_default=True,
    metavar="URL",
    help=f"Where results live: a folder or a URL such as s3://bucket/exp [env: {BASE_VARIABLE}].",
)
@click.option(
    "--storage-option",
    "-o",
    multiple=True,
    metavar="KEY=VALUE",
    help="Storage option for the store, e.g. -o endpoint_url=http://localhost:9000 (repeatable).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, base: str, storage_option: tuple[str, ...], debug: bool) -> None:
    """Read and write job results in a shared store (a folder, S3, GCS...).

    \b
    Examples:
      resulttracker put exp1/trial1 loss=0.12 acc/mean=0.91 acc/sem=0.01
      resulttracker show exp1 --where 'loss < 0.5' --sort loss
      resulttracker -b s3://bucket/runs best acc --max
    """
    ctx.obj = Settings(base, storage_option, debug)
    ctx.obj.options = parse_storage_options(storage_option)


# The global options are accepted after the command too (`resulttracker show
# --base s3://...`), as git- and kubectl-style commands allow: every command gets
# copies that update the group's Settings; a value given after the command wins.


def _override_base(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    settings = ctx.find_object(Settings)
    if value is not None and settings is not None:
        settings.base = value
        settings._tracker = None


def _add_storage_options(ctx: click.Context, _: click.Parameter, value: tuple[str, ...]) -> None:
    settings = ctx.find_object(Settings)
    if value and settings is not None:
        settings.option_pairs = (*settings.option_pairs, *value)
        settings.options = {**settings.options, **parse_storage_options(value)}
        settings._tracker = None


def _enable_debug(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    settings = ctx.find_object(Settings)
    if value and settings is not None:
        settings.debug = True


def _global_options_for_commands() -> list[click.Parameter]:
    shown = "(global option; may also come before the command)"
    return [
        click.Option(
            ["--base", "-b"],
            metavar="URL",
            expose_value=False,
            callback=_override_base,
            help=f"Where results live {shown}.",
        ),
        click.Option(
            ["--storage-option", "-o"],
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=_add_storage_options,
            help=f"Storage option for the store {shown}.",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_enable_debug,
            help=f"Show tracebacks {shown}.",
        ),
    ]


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit status."""
    try:
        cli.main(args=None if argv is None else list(argv), prog_name="resulttracker")
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_FAILURE)
    return 0


# -- put / get ------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
    re.IGNORECASE,
)


def parse_value(text: str) -> ResultType:
    """A ``put`` value: an int if it reads as one, else a float (``nan``,
    ``inf``, ``-inf`` and exponents included), else the text itself.

    Only plain decimal notation counts as a number: ``1_000``, ``0x10`` and
    ``true`` stay text.
    """
    if _INTEGER.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _parse_pairs(pairs: Iterable[str], texts: Iterable[str]) -> Results:
    results: Results = {}
    for pair, as_text in itertools.chain(
        ((pair, False) for pair in pairs), ((pair, True) for pair in texts)
    ):
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise InputError(f"result {pair!r} is not NAME=VALUE")
        if name in results:
            raise InputError(f"result {name!r} is given twice")
        results[name] = value if as_text else parse_value(value)
    return results


@cli.command()
@_key_argument("key")
@click.argument("results", nargs=-1, metavar="NAME=VALUE...")
@click.option(
    "--str",
    "texts",
    multiple=True,
    metavar="NAME=VALUE",
    help="A result stored as text even if it reads as a number (repeatable).",
)
def put(key: str, results: tuple[str, ...], texts: tuple[str, ...]) -> None:
    """Write results under KEY, replacing what was there.

    Values read as int, then float (nan, inf, -inf included), else text.

    \b
    Example:
      resulttracker put exp1/trial1 loss=0.12 acc/mean=0.91 acc/sem=0.01 --str seed=007
    """
    parsed = _parse_pairs(results, texts)
    if not parsed:
        raise InputError(f"no results given for key {key!r}: pass NAME=VALUE...")
    name = normalize_key(key)  # checked before the store is even opened
    _settings().tracker().put(name, **parsed)


@cli.command()
@_key_argument("key")
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
    results = _settings().tracker().get(key)
    if not results:
        raise CommandError(f"no results at key {key!r}")
    write_one(results, output_format)


# -- ls / show / best / summary ------------------------------------------------------


def _format_time(modified: datetime | None, output_format: str) -> str | None:
    if modified is None:
        return None
    if output_format == "table":
        return modified.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return modified.isoformat()


@cli.command(name="ls")
@_prefix_argument()
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
    tracker = _settings().tracker()
    terminal = _stdout_is_terminal()
    if not long:
        keys: Iterable[str] = tracker.keys(prefix)
        if terminal:
            keys = sorted(keys, key=natural_key)
        if output_format is None:
            for key in keys:
                click.echo(key)
        else:
            write_rows(({"key": key} for key in keys), output_format, ["key"])
        return
    chosen = output_format or ("table" if terminal else "jsonl")
    records: Iterable[Record] = tracker.scan(prefix)
    if chosen == "table":
        records = sorted(records, key=lambda record: natural_key(record.key))
    rows = (
        {
            "key": record.key,
            "modified": _format_time(record.modified, chosen),
            "results": len(record.results),
        }
        for record in records
    )
    write_rows(rows, chosen, ["key", "modified", "results"])


def _metric_names(records: Iterable[Record]) -> list[str]:
    names: set[str] = set()
    for record in records:
        names.update(stats.group(record.results))
    return sorted(names, key=natural_key)


def _result_columns(records: Sequence[Record], wanted: Sequence[str]) -> list[str]:
    """The result columns of ``show``: every name (naturally sorted), or the
    ``--columns`` asked for, a metric name standing for its ``/mean`` and ``/sem``."""
    present: set[str] = set()
    for record in records:
        present.update(record.results)
    if not wanted:
        return sorted(present, key=natural_key)
    columns: list[str] = []
    for name in wanted:
        if name in present:
            chosen = [name]
        else:
            chosen = [f"{name}/{part}" for part in ("mean", "sem") if f"{name}/{part}" in present]
            if f"{name}/mean" not in present:
                raise MetricNotFoundError(name, _metric_names(records))
        columns.extend(column for column in chosen if column not in columns)
    return columns


def _row(record: Record, columns: Sequence[str] | None = None) -> dict[str, ResultType]:
    if "key" in record.results:
        raise CommandError(
            f"key {record.key!r} has a result named 'key', which clashes with the key "
            f"column; read it with 'resulttracker get {record.key}'"
        )
    results = record.results
    if columns is not None:
        results = {name: results[name] for name in columns if name in results}
    return {"key": record.key, **results}


def _sort_value(results: Mapping[str, ResultType], name: str) -> ResultType | None:
    value = results.get(name, results.get(f"{name}/mean"))
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _sorted_records(records: list[Record], name: str, descending: bool) -> list[Record]:
    """Records by the value of ``name`` (or ``name/mean``): numbers, then text;
    missing and NaN values last whichever the direction."""
    if records and not any(
        name in record.results or f"{name}/mean" in record.results for record in records
    ):
        raise MetricNotFoundError(name, _metric_names(records))
    numbers: list[tuple[float | int, Record]] = []
    texts: list[tuple[str, Record]] = []
    rest: list[Record] = []
    for record in records:
        value = _sort_value(record.results, name)
        if isinstance(value, str):
            texts.append((value, record))
        elif value is None:
            rest.append(record)
        else:
            numbers.append((value, record))
    numbers.sort(key=lambda pair: pair[0], reverse=descending)
    texts.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in numbers] + [record for _, record in texts] + rest


def _split_columns(values: Iterable[str]) -> list[str]:
    names = [name.strip() for value in values for name in value.split(",")]
    if any(not name for name in names):
        raise InputError("--columns takes result names separated by commas")
    return names


@cli.command()
@_prefix_argument()
@_where_option()
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
    wanted = _split_columns(columns)
    condition = parse_where(list(where))
    if desc and sort_by is None:
        raise InputError("--desc needs --sort NAME")
    records: Iterable[Record] = _settings().tracker().select(prefix, condition)
    streaming = output_format in ("json", "jsonl") and not wanted and sort_by is None
    if streaming:
        rows: Iterable[Row] = (_row(record) for record in records)
        write_rows(rows if limit is None else itertools.islice(rows, limit), output_format)
        return
    listed = list(records)
    if output_format == "table":
        listed.sort(key=lambda record: natural_key(record.key))
    if sort_by is not None:
        listed = _sorted_records(listed, sort_by, desc)
    if limit is not None:
        listed = listed[:limit]
    names = _result_columns(listed, wanted)
    if output_format == "table" and not listed:
        _note("no keys" + (f" under {prefix!r}" if prefix else "") + (" match" if where else ""))
        return
    selected = names if wanted else None
    write_rows(
        [_row(record, selected) for record in listed],
        output_format,
        ["key", *names],
        merge_statistics=True,
    )


class _SeenMetric:
    """Passes records through, noting whether any has ``name`` or ``name/mean``
    and which metrics they have (for the error message when none does)."""

    def __init__(self, records: Iterable[Record], name: str) -> None:
        self._records = records
        self._names = (name, f"{name}/mean")
        self.seen = False
        self.count = 0
        self.metrics: set[str] = set()

    def __iter__(self) -> Iterator[Record]:
        for record in self._records:
            self.count += 1
            if not self.seen:
                self.seen = any(name in record.results for name in self._names)
                self.metrics.update(stats.group(record.results))
            yield record


@cli.command()
@click.argument("metric")
@_prefix_argument()
@_where_option()
@click.option("--max", "maximize", is_flag=True, help="The highest value wins (default: lowest).")
@output_options(default="json")
def best(
    metric: str, prefix: str | None, where: tuple[str, ...], maximize: bool, output_format: str
) -> None:
    """Print the key with the best METRIC (a result name, or NAME for NAME/mean).

    Keys where METRIC is missing, text or NaN are skipped; exit status 1 when
    no key has a usable value, 2 when no key has METRIC at all.
    """
    from .query import best_record

    condition = parse_where(list(where))
    tracker = _settings().tracker()
    watched = _SeenMetric(tracker.select(prefix, condition), metric)
    mode = "max" if maximize else "min"
    try:
        record = best_record(watched, metric, mode=mode, prefix=prefix, where=condition)
    except ResultTrackerError:
        if watched.count and not watched.seen:
            raise MetricNotFoundError(metric, sorted(watched.metrics, key=natural_key)) from None
        raise
    write_one(_row(record), output_format)


def _summary_rows(groups: Mapping[str, Results]) -> Iterator[dict[str, Any]]:
    for group_name, results in groups.items():
        for metric_name, statistics in stats.group(results).items():
            if "mean" not in statistics:
                continue  # text kept by aggregate: not a statistic
            yield {
                "group": group_name,
                "metric": metric_name,
                "mean": statistics["mean"],
                "sem": statistics.get("sem"),
                "n": statistics.get("n"),
                "nan_count": statistics.get("nan_count", 0),
            }


@cli.command()
@_prefix_argument()
@click.option(
    "--depth",
    "-d",
    type=click.IntRange(min=1),
    default=None,
    help="Group keys by their first K path segments [default: all but the last].",
    metavar="K",
)
@_where_option()
@output_options()
def summary(
    prefix: str | None, depth: int | None, where: tuple[str, ...], output_format: str
) -> None:
    """Aggregate replicas: mean ± sem and n of every metric, per group of keys.

    Keys are grouped by their first K path segments (e.g. exp/lr0.1/seed3 with
    --depth 2 belongs to exp/lr0.1). Replicas that report NAME/mean and NAME/sem
    are combined with propagated errors; plain values are summarized.
    """
    condition = parse_where(list(where))
    records = _settings().tracker().select(prefix, condition)
    groups = stats.aggregate(records, by=-1 if depth is None else depth)
    rows: Iterable[dict[str, Any]] = _summary_rows(groups)
    if output_format == "table":
        ordered = sorted(rows, key=lambda row: (natural_key(row["group"]), row["metric"]))
        table_rows = [
            {
                "group": row["group"],
                "metric": row["metric"],
                "mean ± sem": _human_statistic(row["mean"], row["sem"]),
                "n": row["n"],
            }
            for row in ordered
        ]
        if not table_rows:
            _note("no numeric results to summarize")
            return
        write_rows(table_rows, "table", ["group", "metric", "mean ± sem", "n"])
        return
    write_rows(rows, output_format, ["group", "metric", "mean", "sem", "n", "nan_count"])


# -- export / copy -------------------------------------------------------------------


@cli.command(name="export")
@click.argument("destination", metavar="DEST")
@_prefix_argument()
@_where_option()
@click.option(
    "--format",
    "-f",
    "file_format",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="File format [default: from DEST's suffix].",
)
@_dest_options()
def export_command(
    destination: str,
    prefix: str | None,
    where: tuple[str, ...],
    file_format: str | None,
    dest_option: tuple[str, ...],
) -> None:
    """Write the results under PREFIX as a CSV, JSON Lines, JSON or Parquet file.

    DEST is a path, a URL (s3://bucket/results.parquet) or - for stdout
    (then --format is needed). Columns: key, modified, then every result name.
    """
    settings = _settings()
    options = parse_storage_options(dest_option) if dest_option else settings.options
    condition = parse_where(list(where))
    tracker = settings.tracker()
    target: Any = sys.stdout.buffer if destination == "-" else destination
    with ProgressBar("reading") as bar:

        def progress(phase: str, done: int, total: int | None) -> None:
            bar.update(done, total, "reading" if phase == "read" else "writing")

        rows = tracker.export(
            target,
            format=file_format,
            prefix=prefix,
            where=condition,
            progress=progress,
            storage_options=None if destination == "-" else options,
        )
    if destination != "-":
        _note(f"exported {_plural(rows, 'key')} to {redact_url(destination)}")


@cli.command(name="copy")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DEST")
@_prefix_argument()
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace keys that DEST already has with other results (default: keep them "
    "and fail, listing them).",
)
@_dest_options()
def copy_command(
    source: str,
    destination: str,
    prefix: str | None,
    overwrite: bool,
    dest_option: tuple[str, ...],
) -> None:
    """Copy the results under PREFIX from the store SRC to the store DEST.

    Values are copied exactly (types, NaN, infinities). A key DEST already has
    is kept unless --overwrite: identical results count as unchanged, other
    results make the copy fail with exit status 1 and are listed. The global
    -o options apply to SRC (and to DEST unless --dest-option is given);
    --base is not used.

    \b
    Example:
      resulttracker -o profile=lab copy ./results s3://bucket/results exp1
    """
    settings = _settings()
    normalize_prefix(prefix)  # checked before any store is opened
    source_tracker = settings.open(source)
    options = parse_storage_options(dest_option) if dest_option else None
    destination_tracker = settings.open(destination, options)
    with ProgressBar("copying") as bar:
        report = copy_results(
            source_tracker,
            destination_tracker,
            prefix=prefix,
            overwrite=overwrite,
            progress=lambda so_far: bar.update(so_far.read),
        )
    _note(_copy_summary(report, destination))
    problems = []
    if report.conflicts:
        problems.append(
            f"{_plural(len(report.conflicts), 'key')} already in DEST with other results "
            f"(not copied: {_listing(report.conflicts)}; --overwrite replaces them)"
        )
    if report.corrupt:
        problems.append(
            f"{_plural(len(report.corrupt), 'corrupt key')} in SRC "
            f"(not copied: {_listing(report.corrupt)})"
        )
    if problems:
        raise CommandError("; ".join(problems))


def _copy_summary(report: CopyReport, destination: str) -> str:
    return (
        f"copied {_plural(report.copied, 'key')} to {redact_url(destination)}"
        f" ({report.unchanged} already identical)"
    )


# -- wait / rm / check ---------------------------------------------------------------


@cli.command()
@click.argument("keys", nargs=-1, required=True, metavar="KEY...", shell_complete=_complete_keys)
@click.option(
    "--timeout",
    "-t",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Give up after this long (exit status 1) [default: wait forever].",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="Time between two looks at the store.",
)
def wait(keys: tuple[str, ...], timeout: float | None, interval: float) -> None:
    """Block until every KEY has results.

    Exit status 0 once they all do, 1 on timeout (the message names the keys
    still missing).
    """
    names = normalize_keys(keys)
    _settings().tracker().wait_many(
        names, timeout=math.inf if timeout is None else timeout, poll_interval=interval
    )


@cli.command(name="rm")
@click.argument("keys", nargs=-1, metavar="[KEY]...", shell_complete=_complete_keys)
@click.option("--prefix", "-p", metavar="P", help="Delete every key under P ('/': all keys).")
@click.option("--yes", "-y", is_flag=True, help="Confirm the deletion of a prefix.")
def remove(keys: tuple[str, ...], prefix: str | None, yes: bool) -> None:
    """Delete KEYs, or every key under --prefix (which needs --yes).

    Exit status 1 if a KEY had no results (the others are still deleted).
    """
    if bool(keys) == (prefix is not None):
        raise click.UsageError("give either KEYs or --prefix P")
    tracker = _settings().tracker()
    if prefix is None:
        missing = [key for key in normalize_keys(keys) if not tracker.delete(key)]
        if missing:
            raise CommandError(f"no results at {_plural(len(missing), 'key')}: {_listing(missing)}")
        return
    if not prefix:
        raise InputError("--prefix must not be empty (use --prefix / for every key)")
    doomed = list(tracker.keys(prefix))
    scope = "in the store" if normalize_prefix(prefix) == "" else f"under {prefix!r}"
    if not doomed:
        raise CommandError(f"no keys {scope}")
    if not yes:
        raise InputError(f"not deleting {_plural(len(doomed), 'key')} {scope} without --yes")
    deleted = 0
    with ProgressBar("deleting") as bar:
        for number, key in enumerate(doomed, 1):
            deleted += tracker.delete(key)
            bar.update(number, len(doomed))
    _note(f"deleted {_plural(deleted, 'key')} {scope}")


@cli.command()
@_prefix_argument()
@click.option("--fix", is_flag=True, help="Remove stray temporary files older than --min-age.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="With --fix, leave younger temporary files (a write may be in progress).",
)
@output_options()
def check(prefix: str | None, fix: bool, min_age: float, output_format: str) -> None:
    """Check that every key under PREFIX holds valid results.

    Lists corrupt keys and temporary files left by crashed writers; exit status
    1 if there are any (temporary files removed by --fix do not count).
    Corrupt results are never removed: look at them.
    """
    report = _settings().tracker().check(prefix, fix=fix, min_age=min_age)
    removed = set(report.removed)
    rows: list[dict[str, Any]] = [
        {"problem": "corrupt", "key": error.key, "location": error.location, "detail": error.reason}
        for error in report.corrupt
    ]
    for location in report.temporary_files:
        if location in removed:
            detail = "removed"
        elif fix:
            detail = f"kept: younger than {min_age:g} s"
        else:
            detail = "kept: --fix removes it"
        rows.append(
            {"problem": "temporary file", "key": None, "location": location, "detail": detail}
        )
    if rows:
        write_rows(rows, output_format, ["problem", "key", "location", "detail"])
    found = (
        f"checked {_plural(report.checked, 'key')}: "
        f"{_plural(len(report.corrupt), 'corrupt key')}, "
        f"{_plural(len(report.temporary_files), 'temporary file')}"
        f" ({len(report.removed)} removed)"
    )
    if not report.ok:
        raise CommandError(found)
    _note(found)


# -- demo / serve / report -----------------------------------------------------------


@cli.command()
@click.option("--trials", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search.")
def demo(trials: int, seeds: int, parallel: int, seed: int) -> None:
    """Run the demo sweep: trials as separate processes, results in --base."""
    from .demo import main as demo_main

    settings = _settings()
    flags = [flag for pair in settings.option_pairs for flag in ("-o", pair)]
    sizes = ["--trials", str(trials), "--seeds", str(seeds), "--parallel", str(parallel)]
    status = demo_main(["--base", settings.base, *flags, *sizes, "--seed", str(seed)])
    if status:
        raise CommandError("some trials failed (see above)")


def _web() -> ModuleType:
    try:
        return importlib.import_module("resulttracker.web")
    except ImportError as error:
        raise InputError(DASHBOARD_HINT) from error


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--refresh",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often the page reloads the results.",
)
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
def serve(host: str, port: int, refresh: float, no_browser: bool) -> None:
    """Serve a live dashboard of the results (needs the dashboard extra)."""
    web = _web()
    tracker = _settings().tracker()
    web.serve(tracker, host=host, port=port, refresh=refresh, open_browser=not no_browser)


@cli.command()
@click.argument("destination", metavar="DEST.html")
@_prefix_argument()
@_where_option()
def report(destination: str, prefix: str | None, where: tuple[str, ...]) -> None:
    """Write a self-contained HTML report of the results (needs the dashboard extra)."""
    web = _web()
    parse_where(list(where))  # refuse a bad condition before anything is read
    rows = web.write_report(_settings().tracker(), destination, prefix=prefix, where=list(where))
    _note(f"wrote {_plural(int(rows), 'row')} to {destination}")


for _command in cli.commands.values():
    _command.params.extend(_global_options_for_commands())
