"""Tables of results: a pandas DataFrame, or a CSV, JSON Lines, JSON or Parquet file.

Every table has one row per key and the columns ``key``, ``modified``, then
the result names sorted by code point (slash names such as ``loss/mean`` stay
as they are). A key without some result has an empty cell there.

Streaming
---------
A file's columns must be known before its first row is written (the CSV
header, the Parquet schema), yet result names are only known once every key
has been read. :func:`export_records` therefore runs in two passes:

1. *read*: records are fetched in batches and appended to an anonymous local
   temporary file (pickled batches), while the result names and their value
   types are collected;
2. *write*: the temporary file is read back one batch at a time and each batch
   becomes rows of the destination (one Parquet row group per batch).

The store is read once, so the file is one consistent pass over it, and memory
holds one batch plus the set of result names however many keys there are; the
temporary file needs about as much local disk as the documents themselves.
Everything that can be refused (format, a missing pyarrow, an invalid
``where``, a result named like a metadata column, a corrupt document) is
refused in the first pass, before the destination is opened.

NaN and infinities
------------------
* CSV: ``nan``, ``inf`` and ``-inf`` (what ``pandas.read_csv`` reads back as
  floats); a missing value is an empty field. CSV cannot tell a missing value
  from NaN, nor an empty string from a missing one.
* JSON Lines and JSON: the bare words ``NaN``, ``Infinity`` and ``-Infinity``,
  exactly as in the stored result files (Python's ``json``, pandas and JSON5
  read them; strict JSON parsers do not). A missing value is ``null``, so NaN
  and missing stay distinct.
* Parquet: IEEE NaN and infinities in ``double`` columns; a missing value is
  null.

Types
-----
CSV and JSON write each value as it is stored. Parquet needs one type per
column: ``bool`` when a column holds only booleans, ``int64`` when it holds
integers (and booleans) that fit in 64 bits, ``double`` when it holds floats
(integers and booleans are converted), and ``string`` when it holds any text
(numbers are then written as text: ``0.5``, ``nan``, ``True``).

Values that ``put`` refuses but documents written by torchx or others may
hold (see :mod:`resulttracker.codec`):

* ``null``: JSON and JSON Lines write ``null``; CSV an empty field; Parquet a
  null (a column holding nothing else is a ``string`` column);
* lists and objects: JSON and JSON Lines write them as they are (nested
  arrays and objects); CSV writes their one-line JSON text (``[0.5, NaN]``);
  Parquet makes the column a ``string`` column holding that text;
* an integer beyond the range of a float (``10**400``): Parquet makes the
  column a ``string`` column of digits (a ``double`` would be infinite); an
  integer beyond 64 bits but within that range makes it a ``double``. ``key`` is a
string and ``modified`` a UTC timestamp in microseconds, null when the store
keeps no times; CSV and JSON write ``modified`` as ISO 8601 text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any, Protocol

from ._urls import redact_url
from .errors import ExportError, ResultTrackerError, StoreError
from .model import Record
from .validation import ResultType

__all__ = [
    "FORMATS",
    "METADATA_COLUMNS",
    "ExportProgress",
    "export_records",
    "format_for",
    "to_dataframe",
]

#: The formats :func:`export_records` writes.
FORMATS = ("csv", "jsonl", "json", "parquet")

#: The columns that come before the result names.
METADATA_COLUMNS = ("key", "modified")

_FORMAT_OF_SUFFIX = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: The spool holds pickled batches that this process wrote a moment ago in its
#: own anonymous temporary file, so unpickling it trusts nothing from outside.
_SPOOL_PROTOCOL = pickle.HIGHEST_PROTOCOL

Row = tuple[str, "datetime | None", Mapping[str, ResultType]]


class ExportProgress(Protocol):
    """The ``progress`` hook of :func:`export_records`.

    Called as ``progress(phase, done, total)`` after every batch: first with
    ``phase="read"``, ``done`` the keys read so far and ``total`` ``None``
    (not known before the end); then with ``phase="write"``, ``done`` the rows
    written so far and ``total`` the number of rows.
    """

    def __call__(self, phase: str, done: int, total: int | None) -> None: ...


# -- pandas --------------------------------------------------------------------------


def to_dataframe(records: Iterable[Record]) -> Any:
    """A pandas DataFrame of ``records``: columns ``key``, ``modified``, then the
    result names sorted.

    Missing values are NaN (numeric columns) or None/NaN (others); NaN stays
    NaN. A ``null``, list or object that a document written by another writer
    holds stays that Python value (``None``, ``list``, ``dict``) in an
    ``object`` column. ``modified`` is a UTC ``datetime64`` column, or a column of ``None``
    when the store keeps no times.

    Raises
    ------
    ImportError
        pandas is not installed; the message says what to install.
    ExportError
        A result is named ``key`` or ``modified``.
    """
    pandas = _import("pandas", "to_dataframe()", "pandas")
    keys: list[str] = []
    times: list[datetime | None] = []
    rows: list[Mapping[str, ResultType]] = []
    names: set[str] = set()
    for record in records:
        _check_names(record.key, record.results)
        keys.append(record.key)
        times.append(record.modified)
        rows.append(record.results)
        names.update(record.results)
    columns: dict[str, Any] = {"key": keys}
    if any(time is not None for time in times):
        columns["modified"] = pandas.to_datetime(times, utc=True)
    else:
        columns["modified"] = pandas.Series(times, dtype=object)
    for name in sorted(names):
        columns[name] = [row.get(name) for row in rows]
    return pandas.DataFrame(columns, columns=list(columns))


# -- files ---------------------------------------------------------------------------


def format_for(destination: object, format: str | None) -> str:
    """The export format: ``format`` checked, or guessed from the destination's
    suffix when ``format`` is ``None``.

    Raises
    ------
    ExportError
        The format is unknown, or it is ``None`` and the suffix names none.
    """
    if format is not None:
        if format not in FORMATS:
            raise ExportError(
                f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}"
            )
        return format
    if isinstance(destination, (str, os.PathLike)):
        suffix = os.path.splitext(os.fspath(destination))[1].lower()
        if suffix in _FORMAT_OF_SUFFIX:
            return _FORMAT_OF_SUFFIX[suffix]
        shown = redact_url(os.fspath(destination))
        raise ExportError(
            f"cannot tell the export format from {shown!r}; pass format= one of "
            f"{', '.join(FORMATS)} (or use a .csv, .jsonl, .json or .parquet name)"
        )
    raise ExportError(f"pass format= (one of {', '.join(FORMATS)}) when exporting to a file object")


def export_records(
    records: Iterable[Record],
    destination: str | os.PathLike[str] | IO[bytes],
    *,
    format: str | None = None,
    batch_size: int = 1000,
    progress: ExportProgress | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> int:
    """Write ``records`` as a table to ``destination``; return the rows written.

    See the module docstring for the two passes, the column types and the NaN
    policy of each format.

    Parameters
    ----------
    records : iterable of Record
        The rows, in order (typically ``tracker.select(...)``).
    destination : str, os.PathLike or binary file object
        A local path or any fsspec URL (replaced if it exists), or an open
        binary file, which is written to and left open.
    format : {"csv", "jsonl", "json", "parquet"} or None
        ``None`` guesses from the destination's suffix.
    batch_size : int
        Rows per batch (and per Parquet row group).
    progress : callable, optional
        Called after every batch; see :class:`ExportProgress`.
    storage_options : mapping, optional
        Passed to fsspec to open a URL destination (e.g. ``endpoint_url``).

    Raises
    ------
    ExportError
        Unknown format, bad ``batch_size``, or a result named ``key`` or
        ``modified``; nothing is written.
    ImportError
        Parquet was asked for and pyarrow is not installed; nothing is written.
    StoreError
        The destination could not be written; a partly written file at a path
        destination is removed (best effort).
    """
    chosen = format_for(destination, format)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ExportError(f"batch_size must be a positive int, got {batch_size!r}")
    if chosen == "parquet":
        _import("pyarrow.parquet", "export(format='parquet')", "parquet")
    with tempfile.TemporaryFile(prefix="resulttracker-export-") as spool:
        columns, total = _spool(records, spool, batch_size, progress)
        spool.seek(0)
        batches = _unspool(spool)
        _write(destination, chosen, columns, batches, total, progress, storage_options)
    return total


class _Columns:
    """The result names met so far and the kinds of value each holds."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = {}

    def add(self, results: Mapping[str, ResultType]) -> None:
        for name, value in results.items():
            kinds = self.kinds.get(name)
            if kinds is None:
                kinds = self.kinds[name] = set()
            kinds.add(_kind(value))

    def names(self) -> list[str]:
        return sorted(self.kinds)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return "int"
        # Beyond the float range too (torchx writes any int): only text keeps it.
        return "bigint" if abs(value) <= sys.float_info.max else "json"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "null" if value is None else "json"


def _check_names(key: str, results: Mapping[str, ResultType]) -> None:
    for column in METADATA_COLUMNS:
        if column in results:
            raise ExportError(
                f"key {key!r} has a result named {column!r}, which clashes with the "
                f"{column!r} column of every export; rename that result to export this store"
            )


def _spool(
    records: Iterable[Record],
    spool: IO[bytes],
    batch_size: int,
    progress: ExportProgress | None,
) -> tuple[_Columns, int]:
    columns = _Columns()
    count = 0
    batch: list[Row] = []
    for record in records:
        _check_names(record.key, record.results)
        columns.add(record.results)
        batch.append((record.key, record.modified, record.results))
        if len(batch) >= batch_size:
            pickle.dump(batch, spool, protocol=_SPOOL_PROTOCOL)
            count += len(batch)
            batch = []
            if progress is not None:
                progress("read", count, None)
    if batch:
        pickle.dump(batch, spool, protocol=_SPOOL_PROTOCOL)
        count += len(batch)
    if progress is not None and (batch or count == 0):
        progress("read", count, None)
    return columns, count


def _unspool(spool: IO[bytes]) -> Iterator[list[Row]]:
    while True:
        try:
            batch: list[Row] = pickle.load(spool)
        except EOFError:
            return
        yield batch


def _write(
    destination: str | os.PathLike[str] | IO[bytes],
    format: str,
    columns: _Columns,
    batches: Iterator[list[Row]],
    total: int,
    progress: ExportProgress | None,
    storage_options: Mapping[str, Any] | None,
) -> None:
    writer = _WRITERS[format]
    if not isinstance(destination, (str, os.PathLike)):
        writer(destination, columns, batches, total, progress)
        return
    import fsspec

    from .backends.remote import open_destination

    path = os.fspath(destination)
    shown = redact_url(path)
    remote = open_destination(path, storage_options)
    if remote is not None:
        # Written locally, then uploaded as one operation under the store's
        # deadline (operation_timeout): a hung endpoint costs a bounded wait, and
        # an object store never shows a half-written table.
        with tempfile.NamedTemporaryFile(prefix="resulttracker-export-") as local:
            writer(local, columns, batches, total, progress)
            local.flush()
            remote.upload(local.name, "writing the export")
        return
    try:
        with fsspec.open(path, "wb", **dict(storage_options or {})) as file:
            writer(file, columns, batches, total, progress)
    except BaseException as error:
        # Whatever stopped the write (I/O, a progress hook, Ctrl-C), leave no
        # half-written table that looks complete.
        _remove_quietly(path, storage_options)
        if isinstance(error, OSError) and not isinstance(error, ResultTrackerError):
            raise StoreError(f"cannot write the export to {shown!r}: {error}") from error
        raise


def _remove_quietly(path: str, storage_options: Mapping[str, Any] | None) -> None:
    import fsspec

    with contextlib.suppress(Exception):
        fs, inner = fsspec.core.url_to_fs(path, **dict(storage_options or {}))
        if fs.exists(inner):
            fs.rm(inner)


def _report(progress: ExportProgress | None, done: int, total: int) -> None:
    if progress is not None:
        progress("write", done, total)


# -- one writer per format -----------------------------------------------------------


def _iso(time: datetime | None) -> str | None:
    return None if time is None else time.isoformat()


def json_text(value: object) -> str:
    """A list or an object as one line of JSON text (NaN as ``NaN``), for
    formats whose cells are text; the dashboard shows the same text."""
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; nan, inf, -inf
    if isinstance(value, (list, dict)):
        return json_text(value)
    return str(value)


def _write_csv(
    file: IO[bytes],
    columns: _Columns,
    batches: Iterator[list[Row]],
    total: int,
    progress: ExportProgress | None,
) -> None:
    names = columns.names()
    text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([*METADATA_COLUMNS, *names])
        done = 0
        for batch in batches:
            writer.writerows(
                [key, _iso(modified) or "", *(_csv_cell(results.get(name)) for name in names)]
                for key, modified, results in batch
            )
            done += len(batch)
            _report(progress, done, total)
        text.flush()
    finally:
        text.detach()  # leave the binary file to its owner


def _json_row(names: Sequence[str], row: Row) -> str:
    key, modified, results = row
    document: dict[str, object] = {"key": key, "modified": _iso(modified)}
    for name in names:
        document[name] = results.get(name)
    return json.dumps(document, ensure_ascii=False, allow_nan=True)


def _write_jsonl(
    file: IO[bytes],
    columns: _Columns,
    batches: Iterator[list[Row]],
    total: int,
    progress: ExportProgress | None,
) -> None:
    names = columns.names()
    done = 0
    for batch in batches:
        file.write("".join(_json_row(names, row) + "\n" for row in batch).encode("utf-8"))
        done += len(batch)
        _report(progress, done, total)


def _write_json(
    file: IO[bytes],
    columns: _Columns,
    batches: Iterator[list[Row]],
    total: int,
    progress: ExportProgress | None,
) -> None:
    names = columns.names()
    file.write(b"[")
    separator = "\n"
    done = 0
    for batch in batches:
        pieces = []
        for row in batch:
            pieces.append(separator + _json_row(names, row))
            separator = ",\n"
        file.write("".join(pieces).encode("utf-8"))
        done += len(batch)
        _report(progress, done, total)
    file.write(b"\n]\n" if done else b"]\n")


def _parquet_type(kinds: set[str]) -> str:
    kinds = kinds - {"null"}  # null fits every type
    if not kinds or "str" in kinds or "json" in kinds:
        return "string"
    if kinds == {"bool"}:
        return "bool"
    if kinds <= {"bool", "int"}:
        return "int64"
    return "float64"


def _as_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf


def _parquet_cell(kind: str, value: object) -> object:
    if value is None:
        return None
    if kind == "string":
        return _csv_cell(value)
    if kind == "float64":
        return _as_float(value)  # type: ignore[arg-type]
    if kind == "int64":
        return int(value)  # type: ignore[call-overload]
    return value


def _write_parquet(
    file: IO[bytes],
    columns: _Columns,
    batches: Iterator[list[Row]],
    total: int,
    progress: ExportProgress | None,
) -> None:
    import pyarrow
    import pyarrow.parquet

    names = columns.names()
    kinds = [_parquet_type(columns.kinds[name]) for name in names]
    arrow_types = {
        "string": pyarrow.string(),
        "bool": pyarrow.bool_(),
        "int64": pyarrow.int64(),
        "float64": pyarrow.float64(),
    }
    schema = pyarrow.schema(
        [
            pyarrow.field("key", pyarrow.string(), nullable=False),
            pyarrow.field("modified", pyarrow.timestamp("us", tz="UTC")),
            *(
                pyarrow.field(name, arrow_types[kind])
                for name, kind in zip(names, kinds, strict=True)
            ),
        ]
    )
    writer = pyarrow.parquet.ParquetWriter(file, schema)
    try:
        done = 0
        for batch in batches:
            arrays = [
                pyarrow.array([key for key, _, _ in batch], pyarrow.string()),
                pyarrow.array([modified for _, modified, _ in batch], schema.field(1).type),
            ]
            for name, kind in zip(names, kinds, strict=True):
                cells = [_parquet_cell(kind, results.get(name)) for _, _, results in batch]
                arrays.append(pyarrow.array(cells, arrow_types[kind]))
            writer.write_batch(pyarrow.RecordBatch.from_arrays(arrays, schema=schema))
            done += len(batch)
            _report(progress, done, total)
    finally:
        writer.close()


_WRITERS = {
    "csv": _write_csv,
    "jsonl": _write_jsonl,
    "json": _write_json,
    "parquet": _write_parquet,
}


def _import(module: str, what: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{what} needs {module.partition('.')[0]}, which is not installed: "
            f"pip install 'resulttracker[{extra}]'"
        ) from error
