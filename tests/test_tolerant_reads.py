"""Write strict, read tolerant (issue 12, item 7): documents torchx writes with
``null``, lists or objects as values, and the empty document, flow through every
consumer of results — statistics, queries, export, ``to_dataframe``, ``copy``,
the command line and the dashboard — without crashing, each showing or skipping
them as its module documents.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

from resulttracker import FsspecResultTracker, NoCandidatesError, copy, stats
from resulttracker import cli as cli_module

from .conftest import StoreHarness

# torchx hands keys straight to fsspec's FSMap, which may warn about it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: What torchx 0.7.0's put stores, as torchx itself writes it: "loss" is a
#: number in two keys and something else in the others.
WRITTEN_BY_TORCHX: dict[str, dict[str, Any]] = {
    "exp/a/0": {"loss": 0.5, "opt": "adam", "curve": [0.9, 0.5]},
    "exp/a/1": {"loss": None, "opt": "adam", "cfg": {"lr": 0.1, "float": "nan"}},
    "exp/b/0": {"loss": [1, 2], "opt": "sgd", "curve": [math.nan, math.inf]},
    "exp/b/1": {"loss": {"mean": 3}, "opt": "sgd"},
    "exp/c/0": {"loss": 0.25, "opt": "sgd", "note": None, "": 1},
    "exp/empty": {},
}


@pytest.fixture
def base(tmp_path: Path) -> str:
    root = str(tmp_path / "written-by-torchx")
    torchx = TorchxTracker(root)
    for key, results in WRITTEN_BY_TORCHX.items():
        torchx.put(key, **results)
    return root


@pytest.fixture
def tracker(base: str) -> FsspecResultTracker:
    return FsspecResultTracker(base)


def test_every_key_reads_back_as_torchx_reads_it(tracker: FsspecResultTracker, base: str) -> None:
    torchx = TorchxTracker(base)
    assert list(tracker.keys()) == sorted(WRITTEN_BY_TORCHX)
    for record in tracker.scan():
        assert json.dumps(record.results) == json.dumps(torchx.get(record.key))
    assert tracker.check().ok


def test_queries_skip_values_they_cannot_compare(tracker: FsspecResultTracker) -> None:
    for where in ("loss < 1", "loss >= 0", "loss != 7", "loss = 0.5"):
        selected = [record.key for record in tracker.select(where=where)]
        assert set(selected) <= {"exp/a/0", "exp/c/0"}, where
    assert [r.key for r in tracker.select(where="loss != 7")] == ["exp/a/0", "exp/c/0"]
    assert [r.key for r in tracker.select(where="curve = x")] == []
    assert [r.key for r in tracker.select(where="note != x")] == []
    assert tracker.best("loss").key == "exp/c/0"
    assert tracker.best("loss", mode="max").key == "exp/a/0"
    with pytest.raises(NoCandidatesError, match="'curve'"):
        tracker.best("curve")


def test_aggregate_counts_such_values_as_not_reported(tracker: FsspecResultTracker) -> None:
    groups = stats.aggregate(tracker.scan(prefix="exp/a"), by=2)
    assert groups["exp/a"]["loss/n"] == 1  # the null replica does not count
    assert groups["exp/a"]["loss/mean"] == 0.5
    assert groups["exp/a"]["opt"] == "adam"
    assert "curve/mean" not in groups["exp/a"]
    assert "cfg/mean" not in groups["exp/a"]
    everything = stats.aggregate(tracker.scan(), by=2)
    assert "" not in everything["exp/c"]  # an empty name: not put-ready, left out
    assert "/mean" not in everything["exp/c"]
    assert "loss/mean" not in everything["exp/b"]  # no replica reports a number
    assert everything["exp/c"]["loss/mean"] == 0.25
    assert stats.group(tracker.get("exp/b/1")) == {
        "loss": {"value": {"mean": 3}},
        "opt": {"value": "sgd"},
    }
    with pytest.raises(stats.StatisticsTypeError, match="'loss'"):
        stats.metric(tracker.get("exp/a/1"), "loss")


def export_text(tracker: FsspecResultTracker, fmt: str) -> str:
    buffer = io.BytesIO()
    assert tracker.export(buffer, format=fmt) == len(WRITTEN_BY_TORCHX)
    return buffer.getvalue().decode()


def test_csv_writes_json_text_for_lists_and_objects_and_nothing_for_null(
    tracker: FsspecResultTracker,
) -> None:
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(export_text(tracker, "csv")))}
    assert rows["exp/a/0"]["curve"] == "[0.9, 0.5]"
    assert rows["exp/b/0"]["curve"] == "[NaN, Infinity]"
    assert rows["exp/a/1"]["cfg"] == '{"lr": 0.1, "float": "nan"}'
    assert rows["exp/a/1"]["loss"] == ""
    assert rows["exp/b/0"]["loss"] == "[1, 2]"
    assert rows["exp/c/0"]["note"] == ""
    assert rows["exp/empty"]["loss"] == ""
    assert rows["exp/empty"]["key"] == "exp/empty"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_formats_keep_the_values_as_they_are(tracker: FsspecResultTracker, fmt: str) -> None:
    text = export_text(tracker, fmt)
    rows = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    by_key = {row["key"]: row for row in rows}
    for key, results in WRITTEN_BY_TORCHX.items():
        for name, value in results.items():
            assert json.dumps(by_key[key][name]) == json.dumps(value), (key, name)


def test_parquet_makes_such_columns_text(tracker: FsspecResultTracker, tmp_path: Path) -> None:
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    destination = tmp_path / "out.parquet"
    tracker.export(destination)
    table = pyarrow_parquet.read_table(destination)
    types = {field.name: str(field.type) for field in table.schema}
    assert types["curve"] == types["cfg"] == types["loss"] == "string"
    assert types["note"] == "string"  # nothing but null
    rows = {row["key"]: row for row in table.to_pylist()}
    assert rows["exp/b/0"]["curve"] == "[NaN, Infinity]"
    assert rows["exp/a/0"]["loss"] == "0.5"
    assert rows["exp/a/1"]["loss"] is None
    assert rows["exp/c/0"]["note"] is None


def test_to_dataframe_keeps_the_python_values(tracker: FsspecResultTracker) -> None:
    pytest.importorskip("pandas")
    frame = tracker.to_dataframe().set_index("key")
    assert frame.loc["exp/a/0", "curve"] == [0.9, 0.5]
    assert frame.loc["exp/b/1", "loss"] == {"mean": 3}
    assert frame.loc["exp/a/1", "loss"] is None
    assert "exp/empty" in frame.index


def test_copy_keeps_torchx_documents_byte_for_byte(store: StoreHarness, base: str) -> None:
    source = FsspecResultTracker(base)
    report = copy(source, store.tracker)
    assert (report.copied, report.conflicts, report.corrupt) == (len(WRITTEN_BY_TORCHX), [], [])
    for key in WRITTEN_BY_TORCHX:
        assert store.raw_read(key) == (Path(base) / key).read_bytes(), key
    # Copying again finds every key identical, NaN inside lists included.
    again = copy(source, store.tracker)
    assert (again.copied, again.unchanged, again.conflicts) == (0, len(WRITTEN_BY_TORCHX), [])
    # An empty document already there is a key like any other: not replaced silently.
    store.tracker.delete("exp/c/0")
    store.raw_write("exp/c/0", b"{}")
    third = copy(source, store.tracker)
    assert third.conflicts == ["exp/c/0"]
    assert store.raw_read("exp/c/0") == b"{}"
    # ...and back, from every store.
    back = FsspecResultTracker(str(Path(base).with_name("back")))
    assert copy(store.tracker, back).complete
    for key in WRITTEN_BY_TORCHX:
        if key != "exp/c/0":
            assert (Path(base).with_name("back") / key).read_bytes() == store.raw_read(key)


def invoke(base: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_module.cli, ["-b", base, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "jsonl"])
def test_cli_tables_show_such_values(base: str, fmt: str) -> None:
    shown = invoke(base, "show", "--format", fmt).stdout
    if fmt == "table":
        assert "[0.9, 0.5]" in shown
        assert "[NaN, Infinity]" in shown
        assert '{"lr": 0.1, "float": "nan"}' in shown
        assert "None" not in shown
        assert "nan, inf" not in shown
    if fmt == "csv":
        assert "[0.9, 0.5]" in shown
        assert '"{""lr"": 0.1, ""float"": ""nan""}"' in shown
    invoke(base, "show", "--format", fmt, "--sort", "loss")
    invoke(base, "show", "--format", fmt, "--sort", "loss", "--desc", "--where", "loss < 1")
    invoke(base, "ls", "--long", "--format", fmt)
    invoke(base, "summary", "--format", fmt, "--depth", "2")
    invoke(base, "check")


def test_cli_sorts_such_values_last(base: str) -> None:
    lines = invoke(base, "show", "--format", "jsonl", "--sort", "loss").stdout.splitlines()
    assert [json.loads(line)["key"] for line in lines][:2] == ["exp/c/0", "exp/a/0"]


def test_cli_best_and_get(base: str) -> None:
    assert json.loads(invoke(base, "best", "loss").stdout)["key"] == "exp/c/0"
    got = json.loads(invoke(base, "get", "exp/b/0").stdout)
    assert json.dumps(got) == json.dumps(WRITTEN_BY_TORCHX["exp/b/0"])
    assert invoke(base, "get", "exp/empty").stdout.strip() == "{}"
    table = invoke(base, "get", "exp/a/1", "--format", "table").stdout
    assert '{"lr": 0.1, "float": "nan"}' in table
    missing = CliRunner().invoke(cli_module.cli, ["-b", base, "get", "exp/nothing"])
    assert missing.exit_code == 1
    assert "no results at key 'exp/nothing'" in missing.stderr


@pytest.fixture
def dashboard(tracker: FsspecResultTracker, base: str) -> Iterator[Any]:
    from resulttracker.web import make_app
    from resulttracker.web.server import run_server

    server = run_server(make_app(tracker, refresh=0.2), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}).start()
    yield server
    server.shutdown()
    server.server_close()


def test_dashboard_serves_every_key(dashboard: Any) -> None:
    import http.client
    import urllib.parse

    port = dashboard.server_address[1]

    def get(path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, body
        return json.loads(body)

    everything = get("/api/records")
    assert sorted(record["key"] for record in everything["records"]) == sorted(WRITTEN_BY_TORCHX)
    assert everything["corrupt"] == 0
    by_key = {record["key"]: record["results"] for record in everything["records"]}
    # Lists and objects travel as their JSON text, so no stored value can pass
    # for the page's own {"float": ...} marker; null is null.
    assert by_key["exp/b/0"]["curve"] == {"json": "[NaN, Infinity]"}
    assert by_key["exp/a/1"]["cfg"] == {"json": '{"lr": 0.1, "float": "nan"}'}
    assert by_key["exp/a/1"]["loss"] is None
    assert by_key["exp/empty"] == {}
    filtered = get("/api/records?" + urllib.parse.urlencode({"where": "loss < 1"}))
    assert sorted(record["key"] for record in filtered["records"]) == ["exp/a/0", "exp/c/0"]


def test_report_is_written(tracker: FsspecResultTracker, tmp_path: Path) -> None:
    from resulttracker.web import write_report

    rows = write_report(tracker, str(tmp_path / "r.html"), where=["loss >= 0"])
    assert rows == 2
    assert "exp/c/0" in (tmp_path / "r.html").read_text()
    assert write_report(tracker, str(tmp_path / "all.html")) == len(WRITTEN_BY_TORCHX)
    assert "[NaN, Infinity]" in (tmp_path / "all.html").read_text()


def test_ints_beyond_the_float_range_are_shown_digit_for_digit(tmp_path: Path) -> None:
    # torchx writes any Python int (json.dumps(10**400)); a float cannot hold it.
    base = str(tmp_path / "big")
    huge, negative = 10**400, -(8 * 10**4299)
    TorchxTracker(base).put("k1", **{"loss/mean": huge, "loss/sem": 1, "x": negative})
    TorchxTracker(base).put("k2", **{"loss/mean": 0.5, "loss/sem": huge, "x": 1})
    tracker = FsspecResultTracker(base)
    assert tracker.get("k1")["x"] == negative
    assert tracker.best("loss").key == "k2"
    assert [record.key for record in tracker.select(where="x < 0")] == ["k1"]
    for args in (
        ["show", "--format", "table"],
        ["show", "--format", "table", "--sort", "x"],
        ["show", "--format", "table", "--where", "x < 0"],
        ["get", "k1", "--format", "table"],
        ["summary", "--format", "table", "--depth", "1"],
    ):
        shown = invoke(base, *args).stdout
        assert str(huge)[:60] in shown or args[0] == "summary", args
    rows = list(csv.DictReader(io.StringIO(invoke(base, "show", "--format", "csv").stdout)))
    assert rows[0]["x"] == str(negative)
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    tracker.export(tmp_path / "big.parquet")
    table = pyarrow_parquet.read_table(tmp_path / "big.parquet")
    types = {field.name: str(field.type) for field in table.schema}
    assert types["x"] == types["loss/mean"] == "string"  # a double would be infinite
    assert table.column("x").to_pylist() == [str(negative), "1"]
