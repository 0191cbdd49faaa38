"""to_dataframe and export on every backend: round trips read back with pandas/pyarrow."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from resulttracker import (
    CorruptResultError,
    ExportError,
    InvalidKeyError,
    InvalidQueryError,
    ResultTrackerError,
    StoreError,
)
from resulttracker.backends.remote import open_filesystem
from resulttracker.export import FORMATS, format_for
from resulttracker.validation import ResultType

from .conftest import StoreHarness

NAN, INF = math.nan, math.inf

BASE_DATA: dict[str, dict[str, ResultType]] = {
    "exp/a": {
        "loss": 0.25,
        "acc/mean": 0.9,
        "acc/sem": 0.01,
        "opt": "adam",
        "note": 'héllo ✓ 世界 "quoted", comma\nnewline',
        "n": 3,
        "ok": True,
    },
    "exp/b": {"loss": NAN, "acc/mean": INF, "opt": "sgd", "n": 4, "ok": False},
    "exp/c": {"loss": -INF, "ünï/cødé": "ü", "n": -(2**62)},
}
WIDE_KEYS, NAMES_PER_KEY = 20, 55  # 1,100 distinct names beyond the base ones


def wide_data() -> dict[str, dict[str, ResultType]]:
    return {
        f"wide/{k:02d}": {
            f"w{i:04d}": i / 7 for i in range(k * NAMES_PER_KEY, (k + 1) * NAMES_PER_KEY)
        }
        for k in range(WIDE_KEYS)
    }


def fill(store: StoreHarness, *, wide: bool = True) -> dict[str, dict[str, ResultType]]:
    data = {**BASE_DATA, **(wide_data() if wide else {})}
    for key, results in data.items():
        store.tracker.put(key, **results)
    return data


def expected_columns(data: dict[str, dict[str, ResultType]]) -> list[str]:
    names = {name for results in data.values() for name in results}
    return ["key", "modified", *sorted(names)]


def modified_times(store: StoreHarness) -> dict[str, datetime | None]:
    return {record.key: record.modified for record in store.tracker.scan()}


def same(got: object, expected: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    return got == expected and type(got) is type(expected)


def read_bytes(destination: str, options: dict[str, Any] | None = None) -> bytes:
    # Through the file system the library would open for the URL: on gs:// the
    # plain JSON-API one (fsspec's default looks each bucket's type up over gRPC
    # first, a long wait against the emulator, and leaves gRPC threads running
    # in this process, which later fork tests inherit).
    fs, path = open_filesystem(destination, options or {})
    data: bytes = fs.cat_file(path)
    return data


def csv_text(value: ResultType | None) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


# -- round trips ---------------------------------------------------------------------------


def check_csv(
    data: bytes,
    rows: dict[str, dict[str, ResultType]],
    columns: list[str],
    times: dict[str, datetime | None],
) -> None:
    table = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert table[0] == columns
    assert [row[0] for row in table[1:]] == sorted(rows)
    for row in table[1:]:
        key = row[0]
        time = times[key]
        assert row[1] == ("" if time is None else time.isoformat())
        assert row[2:] == [csv_text(rows[key].get(name)) for name in columns[2:]]
    frame = pd.read_csv(io.BytesIO(data))
    assert list(frame.columns) == columns
    by_key = frame.set_index("key")
    assert by_key.loc["exp/a", "loss"] == 0.25
    assert math.isnan(by_key.loc["exp/b", "loss"])
    assert by_key.loc["exp/c", "loss"] == -INF
    assert by_key.loc["exp/b", "acc/mean"] == INF
    assert by_key.loc["exp/a", "note"] == BASE_DATA["exp/a"]["note"]
    assert by_key.loc["exp/c", "ünï/cødé"] == "ü"


def check_json_rows(
    documents: list[dict[str, Any]],
    rows: dict[str, dict[str, ResultType]],
    columns: list[str],
    times: dict[str, datetime | None],
) -> None:
    assert [document["key"] for document in documents] == sorted(rows)
    for document in documents:
        assert list(document) == columns
        key = document["key"]
        time = times[key]
        assert document["modified"] == (None if time is None else time.isoformat())
        for name in columns[2:]:
            assert same(document[name], rows[key].get(name)), (key, name)


def check_parquet(
    data: bytes,
    rows: dict[str, dict[str, ResultType]],
    columns: list[str],
    times: dict[str, datetime | None],
) -> None:
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == columns
    types = {field.name: str(field.type) for field in table.schema}
    assert types["key"] == "string"
    assert types["modified"] == "timestamp[us, tz=UTC]"
    assert types["loss"] == "double"
    assert types["n"] == "int64"
    assert types["ok"] == "bool"
    assert types["opt"] == "string"
    for document in table.to_pylist():
        key = document["key"]
        assert document["modified"] == times[key]
        for name in columns[2:]:
            expected = rows[key].get(name)
            assert same(document[name], expected), (key, name, document[name], expected)
    frame = pd.read_parquet(io.BytesIO(data))
    assert list(frame.columns) == columns


@pytest.mark.parametrize("format", FORMATS)
def test_export_round_trip(store: StoreHarness, tmp_path: Path, format: str) -> None:
    rows = fill(store)
    columns = expected_columns(rows)
    assert len(columns) > 1000
    times = modified_times(store)
    destination = tmp_path / f"out.{format}"
    assert store.tracker.export(destination) == len(rows)
    data = destination.read_bytes()
    if format == "csv":
        check_csv(data, rows, columns, times)
    elif format == "jsonl":
        lines = data.decode("utf-8").splitlines()
        check_json_rows([json.loads(line) for line in lines], rows, columns, times)
        frame = pd.read_json(io.BytesIO(data), lines=True, dtype=False)
        assert list(frame.columns) == columns
        assert math.isnan(frame.set_index("key").loc["exp/b", "loss"])
    elif format == "json":
        check_json_rows(json.loads(data), rows, columns, times)
        frame = pd.read_json(io.BytesIO(data), orient="records", dtype=False)
        assert list(frame.columns) == columns
        assert frame.set_index("key").loc["exp/c", "loss"] == -INF
    else:
        check_parquet(data, rows, columns, times)


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_export_to_a_url_on_the_same_store(file_store: StoreHarness, format: str) -> None:
    rows = fill(file_store, wide=False)
    destination = f"{file_store.base}-exports/all.{format}"
    count = file_store.tracker.export(
        destination, storage_options=file_store.options, where="n > 0"
    )
    assert count == 2
    data = read_bytes(destination, file_store.options)
    wanted = {key: rows[key] for key in ("exp/a", "exp/b")}
    columns = expected_columns(wanted)
    times = modified_times(file_store)
    if format == "jsonl":
        documents = [json.loads(line) for line in data.decode("utf-8").splitlines()]
        check_json_rows(documents, wanted, columns, times)
    else:
        check_parquet(data, wanted, columns, times)


def test_export_prefix_where_and_columns_of_the_selection(store: StoreHarness) -> None:
    fill(store, wide=False)
    buffer = io.BytesIO()
    assert store.tracker.export(buffer, format="csv", prefix="exp", where="opt = sgd") == 1
    header, row = buffer.getvalue().decode().splitlines()
    assert header == "key,modified,acc/mean,loss,n,ok,opt"
    assert row.startswith("exp/b,")
    assert row.endswith(",inf,nan,4,False,sgd")


def test_export_to_a_file_object_leaves_it_open(store: StoreHarness) -> None:
    fill(store, wide=False)
    buffer = io.BytesIO()
    store.tracker.export(buffer, format="json")
    assert not buffer.closed
    assert [row["key"] for row in json.loads(buffer.getvalue())] == ["exp/a", "exp/b", "exp/c"]
    parquet = io.BytesIO()
    store.tracker.export(parquet, format="parquet")
    assert not parquet.closed
    assert pq.read_table(io.BytesIO(parquet.getvalue())).num_rows == 3


def test_export_json_keeps_nan_apart_from_missing(store: StoreHarness) -> None:
    store.tracker["a"] = {"x": NAN}
    store.tracker["b"] = {"y": 1}
    buffer = io.BytesIO()
    store.tracker.export(buffer, format="jsonl")
    text = buffer.getvalue().decode()
    assert '"x": NaN, "y": null' in text
    assert '"x": null, "y": 1' in text


def test_export_batches_progress_and_row_groups(store: StoreHarness, tmp_path: Path) -> None:
    for number in range(7):
        store.tracker[f"k{number}"] = {"x": number}
    calls: list[tuple[str, int, int | None]] = []
    destination = tmp_path / "out.parquet"
    store.tracker.export(destination, batch_size=3, progress=lambda *args: calls.append(args))
    assert calls == [
        ("read", 3, None),
        ("read", 6, None),
        ("read", 7, None),
        ("write", 3, 7),
        ("write", 6, 7),
        ("write", 7, 7),
    ]
    parquet = pq.ParquetFile(destination)
    assert parquet.metadata.num_row_groups == 3
    assert parquet.read().column("x").to_pylist() == list(range(7))


def test_export_progress_on_an_empty_selection(store: StoreHarness) -> None:
    calls: list[tuple[str, int, int | None]] = []
    store.tracker.export(io.BytesIO(), format="csv", progress=lambda *args: calls.append(args))
    assert calls == [("read", 0, None)]


@pytest.mark.parametrize(
    ("format", "expected"),
    [("csv", b"key,modified\n"), ("jsonl", b""), ("json", b"[]\n")],
)
def test_export_of_nothing(store: StoreHarness, format: str, expected: bytes) -> None:
    buffer = io.BytesIO()
    assert store.tracker.export(buffer, format=format) == 0
    assert buffer.getvalue() == expected


def test_export_of_nothing_as_parquet(store: StoreHarness) -> None:
    buffer = io.BytesIO()
    store.tracker.export(buffer, format="parquet")
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert table.num_rows == 0
    assert table.column_names == ["key", "modified"]


def test_parquet_column_types_follow_the_values(store: StoreHarness) -> None:
    store.tracker["a"] = {"mixed": 1, "intfloat": 1, "huge": 2**70, "flag": True, "flagint": True}
    store.tracker["b"] = {"mixed": "x", "intfloat": 2.5, "huge": 1, "flag": False, "flagint": 7}
    store.tracker["c"] = {"mixed": NAN, "intfloat": 3}
    buffer = io.BytesIO()
    store.tracker.export(buffer, format="parquet")
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    types = {field.name: str(field.type) for field in table.schema}
    assert types == {
        "key": "string",
        "modified": "timestamp[us, tz=UTC]",
        "flag": "bool",
        "flagint": "int64",
        "huge": "double",
        "intfloat": "double",
        "mixed": "string",
    }
    columns = table.to_pydict()
    assert columns["mixed"] == ["1", "x", "nan"]
    assert columns["intfloat"] == [1.0, 2.5, 3.0]
    assert columns["huge"] == [float(2**70), 1.0, None]
    assert columns["flagint"] == [1, 7, None]
    assert columns["flag"] == [True, False, None]


def test_export_format_from_suffix() -> None:
    assert format_for("out.CSV", None) == "csv"
    assert format_for("s3://b/x.ndjson", None) == "jsonl"
    assert format_for(Path("x.pq"), None) == "parquet"
    assert format_for("whatever", "json") == "json"


# -- to_dataframe ---------------------------------------------------------------------------


def test_to_dataframe(store: StoreHarness) -> None:
    rows = fill(store)
    frame = store.tracker.to_dataframe()
    assert list(frame.columns) == expected_columns(rows)
    assert list(frame["key"]) == sorted(rows)
    by_key = frame.set_index("key")
    assert by_key.loc["exp/a", "loss"] == 0.25
    assert math.isnan(by_key.loc["exp/b", "loss"])  # NaN stays NaN
    assert by_key.loc["exp/c", "loss"] == -INF
    assert math.isnan(by_key.loc["wide/00", "loss"])  # missing
    assert by_key.loc["exp/a", "note"] == BASE_DATA["exp/a"]["note"]
    assert pd.isna(by_key.loc["exp/c", "opt"])
    assert str(frame["loss"].dtype) == "float64"
    assert by_key.loc["exp/c", "n"] == -(2**62)
    assert by_key.loc["wide/19", "w1099"] == 1099 / 7
    times = modified_times(store)
    if all(time is not None for time in times.values()):
        assert str(frame["modified"].dtype).startswith("datetime64")
        assert str(frame["modified"].dt.tz) == "UTC"
        assert by_key.loc["exp/a", "modified"] == pd.Timestamp(times["exp/a"])


def test_to_dataframe_prefix_and_where(store: StoreHarness) -> None:
    fill(store, wide=False)
    frame = store.tracker.to_dataframe(prefix="exp", where=["n >= 0", "ok = true"])
    assert list(frame["key"]) == ["exp/a"]
    assert list(frame.columns) == [
        "key",
        "modified",
        "acc/mean",
        "acc/sem",
        "loss",
        "n",
        "note",
        "ok",
        "opt",
    ]


def test_to_dataframe_of_nothing(store: StoreHarness) -> None:
    frame = store.tracker.to_dataframe()
    assert list(frame.columns) == ["key", "modified"]
    assert len(frame) == 0


# -- errors: type, message, nothing written ----------------------------------------------


def test_to_dataframe_without_pandas(store: StoreHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    store.tracker["a"] = {"x": 1}
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[pandas\]'"):
        store.tracker.to_dataframe()


def test_parquet_without_pyarrow(
    store: StoreHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.tracker["a"] = {"x": 1}
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    destination = tmp_path / "out.parquet"
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[parquet\]'"):
        store.tracker.export(destination)
    assert not destination.exists()
    # the other formats need neither
    assert store.tracker.export(tmp_path / "out.csv") == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"format": "xlsx"}, ExportError, "unknown export format 'xlsx'"),
        ({"where": "loss <"}, InvalidQueryError, "expected a value after '<'"),
        ({"where": ["n > 0", 5]}, InvalidQueryError, "must be a str, got int"),
        ({"prefix": "a//b"}, InvalidKeyError, "empty path segment"),
        ({"batch_size": 0}, ExportError, "batch_size must be a positive int"),
        ({"batch_size": True}, ExportError, "batch_size must be a positive int"),
    ],
)
def test_export_refuses_bad_arguments_before_writing(
    store: StoreHarness,
    tmp_path: Path,
    kwargs: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    fill(store, wide=False)
    before = store.raw_names()
    destination = tmp_path / "out.csv"
    with pytest.raises(error) as caught:
        store.tracker.export(destination, **kwargs)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ResultTrackerError)
    assert not destination.exists()
    assert store.raw_names() == before


def test_export_needs_a_known_suffix_or_format(store: StoreHarness, tmp_path: Path) -> None:
    store.tracker["a"] = {"x": 1}
    destination = tmp_path / "out.txt"
    with pytest.raises(ExportError, match=r"cannot tell the export format from .*out\.txt"):
        store.tracker.export(destination)
    assert not destination.exists()
    with pytest.raises(ExportError, match="pass format="):
        store.tracker.export(io.BytesIO())


@pytest.mark.parametrize("column", ["key", "modified"])
def test_a_result_named_like_a_metadata_column_is_refused(
    store: StoreHarness, tmp_path: Path, column: str
) -> None:
    store.tracker["a/1"] = {"x": 1}
    store.tracker["a/2"] = {column: "clash", "x": 2}
    destination = tmp_path / "out.parquet"
    with pytest.raises(ExportError, match=f"key 'a/2' has a result named '{column}'"):
        store.tracker.export(destination)
    assert not destination.exists()
    with pytest.raises(ExportError, match=f"result named '{column}'"):
        store.tracker.to_dataframe()
    # a selection without it exports fine
    assert store.tracker.export(tmp_path / "ok.csv", where="x = 1") == 1


def test_a_corrupt_document_stops_the_export_before_writing(
    store: StoreHarness, tmp_path: Path
) -> None:
    store.tracker["a"] = {"x": 1}
    store.raw_write("b", b"{not json")
    destination = tmp_path / "out.jsonl"
    with pytest.raises(CorruptResultError, match="'b'"):
        store.tracker.export(destination)
    assert not destination.exists()


def test_an_unwritable_destination_is_a_store_error(store: StoreHarness, tmp_path: Path) -> None:
    store.tracker["a"] = {"x": 1}
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    destination = blocker / "out.csv"  # a folder that is a file
    with pytest.raises(StoreError, match="cannot write the export to") as caught:
        store.tracker.export(destination)
    assert isinstance(caught.value, OSError)
    assert str(destination) in str(caught.value)
    assert blocker.read_bytes() == b""


def test_a_failed_write_removes_the_partial_file(
    store: StoreHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        store.tracker[f"k{number}"] = {"x": number}
    destination = tmp_path / "out.csv"
    calls = []

    def explode(phase: str, done: int, total: int | None) -> None:
        calls.append(phase)
        if phase == "write":
            assert destination.exists()  # partly written at this point
            raise OSError("disk full")

    with pytest.raises(StoreError, match="disk full"):
        store.tracker.export(destination, batch_size=2, progress=explode)
    assert calls[-1] == "write"
    assert not destination.exists()


def test_an_interrupted_export_removes_the_partial_file(
    store: StoreHarness, tmp_path: Path
) -> None:
    for number in range(5):
        store.tracker[f"k{number}"] = {"x": number}
    destination = tmp_path / "out.parquet"

    def interrupt(phase: str, done: int, total: int | None) -> None:
        if phase == "write":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.tracker.export(destination, batch_size=2, progress=interrupt)
    assert not destination.exists()
