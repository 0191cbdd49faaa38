"""The ``resulttracker`` command, through click's CliRunner on every backend, and as
an installed executable in a subprocess.

Every command's output is checked against the library's own view of the store,
and every error path against its exit status, a one-line message naming the
culprit, and a store left untouched.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from resulttracker import CorruptResultError, FsspecResultTracker, __main__, cli
from resulttracker.cli import parse_storage_options, parse_value
from resulttracker.transfer import same_results

from .conftest import StoreHarness, s3_harness, s3_options

EXECUTABLE = Path(sys.executable).with_name("resulttracker")

#: Results with every kind of value, including the awkward floats.
SAMPLE: dict[str, dict[str, Any]] = {
    "exp/trial2": {"loss": 0.5, "acc/mean": 0.9, "acc/sem": 0.01, "seed": 2, "opt": "adam"},
    "exp/trial10": {"loss": math.nan, "acc/mean": 0.8, "acc/sem": 0.02, "seed": 10},
    "exp/trial1": {"loss": math.inf, "acc/mean": 0.7, "acc/sem": 0.03, "seed": 1, "ok": True},
    "other/run": {"loss": -math.inf, "note": 'ünïcödé, "quoted"'},
}


def global_options(store: StoreHarness) -> list[str]:
    options = ["-b", store.base]
    for name, value in store.options.items():
        options += ["-o", f"{name}={value}"]
    return options


def invoke(store: StoreHarness, *args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli.cli, [*global_options(store), *args], **kwargs)


def fill(store: StoreHarness) -> None:
    for key, results in SAMPLE.items():
        store.tracker.put(key, **results)


def assert_one_line_error(result: Result, status: int, *fragments: str) -> None:
    assert result.exit_code == status, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def same_value(actual: Any, expected: Any) -> bool:
    return same_results({"v": actual}, {"v": expected})


def parse_csv_cell(text: str) -> Any:
    """A CSV cell back to a value (CSV has no types: numbers as the CLI writes them)."""
    return parse_value(text) if text not in ("True", "False") else text == "True"


# -- put / get ------------------------------------------------------------------------


def test_put_then_get_round_trips_every_type(store: StoreHarness) -> None:
    result = invoke(
        store,
        "put",
        "exp/trial1",
        "loss=0.125",
        "epochs=10",
        "big=123456789012345678901234567890",
        "diverged=nan",
        "upper=inf",
        "lower=-Inf",
        "tiny=1e-300",
        "opt=adam",
        "version=1_000",
        "empty=",
        "--str",
        "seed=007",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    stored = store.tracker.get("exp/trial1")
    expected = {
        "loss": 0.125,
        "epochs": 10,
        "big": 123456789012345678901234567890,
        "diverged": math.nan,
        "upper": math.inf,
        "lower": -math.inf,
        "tiny": 1e-300,
        "opt": "adam",
        "version": "1_000",
        "empty": "",
        "seed": "007",
    }
    assert same_results(stored, expected)

    got = invoke(store, "get", "exp/trial1")
    assert got.exit_code == 0
    assert same_results(json.loads(got.stdout), stored)


def test_put_replaces_all_results(store: StoreHarness) -> None:
    assert invoke(store, "put", "k", "a=1", "b=2").exit_code == 0
    assert invoke(store, "put", "k", "c=3").exit_code == 0
    assert store.tracker.get("k") == {"c": 3}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["put", "a//b", "x=1"], "'a//b' has an empty path segment"),
        (["put", "../escape", "x=1"], "'..' path segment"),
        (["put", "k", "x"], "result 'x' is not NAME=VALUE"),
        (["put", "k", "=1"], "result '=1' is not NAME=VALUE"),
        (["put", "k", "x=1", "--str", "x=2"], "result 'x' is given twice"),
        (["put", "k"], "no results given for key 'k'"),
        (["put", "k", "x=" + "y" * 2000], "string of 2000 bytes"),
    ],
)
def test_invalid_put_writes_nothing(store: StoreHarness, args: list[str], fragment: str) -> None:
    result = invoke(store, *args)
    assert_one_line_error(result, 2, fragment)
    assert store.raw_names() == set()


def test_get_of_a_missing_key_exits_1(store: StoreHarness) -> None:
    fill(store)
    assert_one_line_error(invoke(store, "get", "exp/nope"), 1, "no results at key 'exp/nope'")
    assert_one_line_error(invoke(store, "get", "bad//key"), 2, "'bad//key'")


def test_get_formats(store: StoreHarness) -> None:
    fill(store)
    table = invoke(store, "get", "exp/trial10", "--format", "table").stdout
    lines = [line.split() for line in table.splitlines()]
    assert ["loss", "nan"] in lines
    assert ["acc/mean", "0.8"] in lines
    jsonl = invoke(store, "get", "exp/trial10", "-f", "jsonl").stdout
    assert len(jsonl.splitlines()) == 1
    assert same_results(json.loads(jsonl), SAMPLE["exp/trial10"])
    rows = list(csv.DictReader(io.StringIO(invoke(store, "get", "exp/trial1", "-f", "csv").stdout)))
    assert rows == [
        {"loss": "inf", "acc/mean": "0.7", "acc/sem": "0.03", "seed": "1", "ok": "True"}
    ]


# -- ls / show --------------------------------------------------------------------------


def test_ls(store: StoreHarness) -> None:
    fill(store)
    assert invoke(store, "ls").stdout.splitlines() == sorted(SAMPLE)
    assert invoke(store, "ls", "exp").stdout.splitlines() == [
        "exp/trial1",
        "exp/trial10",
        "exp/trial2",
    ]
    long = [json.loads(line) for line in invoke(store, "ls", "--long").stdout.splitlines()]
    assert [row["key"] for row in long] == sorted(SAMPLE)
    assert [row["results"] for row in long] == [len(SAMPLE[key]) for key in sorted(SAMPLE)]
    for row in long:
        assert row["modified"] is None or row["modified"].endswith("+00:00")
    table = invoke(store, "ls", "exp", "-l", "-f", "table").stdout
    keys = [line.split()[0] for line in table.splitlines()[2:]]
    assert keys == ["exp/trial1", "exp/trial2", "exp/trial10"]  # natural order


@pytest.mark.parametrize("output_format", ["json", "jsonl", "csv"])
def test_show_parses_back_to_the_library_results(store: StoreHarness, output_format: str) -> None:
    fill(store)
    result = invoke(store, "show", "--format", output_format)
    assert result.exit_code == 0, result.output
    expected = {record.key: record.results for record in store.tracker.scan()}
    if output_format == "json":
        rows = json.loads(result.stdout)
    elif output_format == "jsonl":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
    else:
        reader = csv.DictReader(io.StringIO(result.stdout))
        rows = [
            # An empty cell is a missing result (SAMPLE has no empty text).
            {name: parse_csv_cell(text) for name, text in row.items() if text != ""}
            for row in reader
        ]
        assert reader.fieldnames is not None
        assert reader.fieldnames[0] == "key"
    assert [row["key"] for row in rows] == sorted(expected)  # library order
    for row in rows:
        key = row.pop("key")
        assert same_results(row, expected[key]), (row, expected[key])


def test_show_defaults_to_json_lines_off_a_terminal(store: StoreHarness) -> None:
    fill(store)
    lines = invoke(store, "show", "exp").stdout.splitlines()
    assert [json.loads(line)["key"] for line in lines] == [
        "exp/trial1",
        "exp/trial10",
        "exp/trial2",
    ]


def test_show_table_is_for_humans(store: StoreHarness) -> None:
    fill(store)
    result = invoke(store, "show", "exp", "--format", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header == ["key", "acc", "loss", "ok", "opt", "seed"]
    body = [line.split() for line in lines[2:]]
    assert [row[0] for row in body] == ["exp/trial1", "exp/trial2", "exp/trial10"]
    assert body[0][:5] == ["exp/trial1", "0.700", "±", "0.030", "inf"]
    assert body[2][:5] == ["exp/trial10", "0.800", "±", "0.020", "nan"]


def test_show_where_sort_limit_columns(store: StoreHarness) -> None:
    fill(store)

    def keys(*args: str) -> list[str]:
        result = invoke(store, "show", *args, "-f", "jsonl")
        assert result.exit_code == 0, result.output
        return [json.loads(line)["key"] for line in result.stdout.splitlines()]

    assert keys("--where", "seed >= 2") == ["exp/trial10", "exp/trial2"]
    assert keys("-w", "seed >= 2", "-w", "opt = adam") == ["exp/trial2"]
    assert keys("--where", "loss = nan") == ["exp/trial10"]
    # Sorted by value; NaN and missing last in both directions.
    assert keys("--sort", "acc") == ["exp/trial1", "exp/trial10", "exp/trial2", "other/run"]
    assert keys("--sort", "acc", "--desc") == [
        "exp/trial2",
        "exp/trial10",
        "exp/trial1",
        "other/run",
    ]
    assert keys("--sort", "loss") == ["other/run", "exp/trial2", "exp/trial1", "exp/trial10"]
    assert keys("--sort", "seed", "--desc", "--limit", "2") == ["exp/trial10", "exp/trial2"]
    assert keys("--limit", "0") == []

    rows = invoke(store, "show", "exp", "--columns", "acc,seed", "-f", "csv").stdout
    assert rows.splitlines()[0] == "key,acc/mean,acc/sem,seed"


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (["show", "--where", "loss <"], 2, "invalid --where 'loss <'"),
        (["show", "--where", "loss"], 2, "invalid --where 'loss'"),
        (["show", "--sort", "nope"], 2, "no metric 'nope'"),
        (["show", "--columns", "nope"], 2, "no metric 'nope'"),
        (["show", "--columns", "a,,b"], 2, "--columns"),
        (["show", "--desc"], 2, "--desc needs --sort"),
        (["show", "bad//prefix"], 2, "'bad//prefix'"),
        (["best", "nope"], 2, "no metric 'nope'"),
        (["best", "note"], 1, "no best 'note'"),
        (["best", "loss", "--where", "seed > 1", "--where", "seed <"], 2, "'seed <'"),
        (["summary", "--depth", "0"], 2, "0"),
    ],
)
def test_query_errors(store: StoreHarness, args: list[str], status: int, fragment: str) -> None:
    fill(store)
    before = {key: store.raw_read(key) for key in SAMPLE}
    result = invoke(store, *args)
    if args[:2] == ["summary", "--depth"]:  # click's own usage error
        assert result.exit_code == 2
        assert "Invalid value for '--depth'" in result.stderr
    else:
        assert_one_line_error(result, status, fragment)
    assert {key: store.raw_read(key) for key in SAMPLE} == before


# -- best / summary ------------------------------------------------------------------


def test_best(store: StoreHarness) -> None:
    fill(store)
    lowest = json.loads(invoke(store, "best", "loss").stdout)
    assert lowest["key"] == "other/run"
    highest = json.loads(invoke(store, "best", "acc", "--max").stdout)
    assert highest.pop("key") == "exp/trial2"
    assert same_results(highest, SAMPLE["exp/trial2"])
    assert (
        json.loads(invoke(store, "best", "acc", "exp", "--where", "seed != 2").stdout)["key"]
        == "exp/trial1"
    )
    table = invoke(store, "best", "seed", "-f", "table").stdout.splitlines()
    assert table[2].split() == ["key", "exp/trial1"]


def test_best_with_no_usable_value_exits_1(store: StoreHarness) -> None:
    store.tracker.put("a", loss=math.nan)
    assert_one_line_error(invoke(store, "best", "loss"), 1, "no best 'loss'")
    assert_one_line_error(invoke(store, "best", "loss", "nothing/here"), 1, "no best 'loss'")


def test_summary_aggregates_replicas(store: StoreHarness) -> None:
    for seed, loss in enumerate([1.0, 2.0, 3.0]):
        store.tracker.put(f"sweep/lr0.1/seed{seed}", loss=loss, acc=0.5 + seed / 10, lr=0.1)
    for seed in range(2):
        store.tracker.put(f"sweep/lr1/seed{seed}", **{"loss/mean": 4.0, "loss/sem": 0.3})
    result = invoke(store, "summary", "sweep", "--depth", "2")
    assert result.exit_code == 0, result.output
    rows = {
        (row["group"], row["metric"]): row for row in map(json.loads, result.stdout.splitlines())
    }
    assert set(rows) == {("sweep/lr0.1", "acc"), ("sweep/lr0.1", "loss"), ("sweep/lr1", "loss")}
    assert rows["sweep/lr0.1", "loss"]["mean"] == 2.0
    assert math.isclose(rows["sweep/lr0.1", "loss"]["sem"], 1 / math.sqrt(3))
    assert rows["sweep/lr0.1", "loss"]["n"] == 3
    assert math.isclose(rows["sweep/lr1", "loss"]["sem"], math.hypot(0.3, 0.3) / 2)
    # The default groups by all but the last segment: the same groups here.
    assert invoke(store, "summary", "sweep").stdout == result.stdout
    table = invoke(store, "summary", "-d", "2", "-f", "table").stdout.splitlines()
    # lr is the same in every replica: a parameter, not a metric to summarize
    assert ("sweep/lr0.1", "lr") not in rows
    assert table[2].split() == ["sweep/lr0.1", "acc", "0.600", "±", "0.058", "3"]


# -- export / copy ---------------------------------------------------------------------


def test_export_csv_and_parquet(store: StoreHarness, tmp_path: Path) -> None:
    fill(store)
    destination = tmp_path / "out.csv"
    result = invoke(store, "export", str(destination), "exp", "--where", "seed > 1")
    assert result.exit_code == 0, result.output
    assert "exported 2 keys" in result.stderr
    rows = list(csv.DictReader(destination.open()))
    assert [row["key"] for row in rows] == ["exp/trial10", "exp/trial2"]
    assert rows[0]["loss"] == "nan"

    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    parquet = tmp_path / "all.data"
    assert invoke(store, "export", str(parquet), "--format", "parquet").exit_code == 0
    frame = pandas.read_parquet(parquet)
    assert list(frame["key"]) == sorted(SAMPLE)

    to_stdout = invoke(store, "export", "-", "other", "--format", "jsonl")
    assert json.loads(to_stdout.stdout)["note"] == SAMPLE["other/run"]["note"]


def test_export_refuses_bad_arguments_and_writes_nothing(
    store: StoreHarness, tmp_path: Path
) -> None:
    fill(store)
    assert_one_line_error(invoke(store, "export", str(tmp_path / "out.xyz")), 2, "out.xyz")
    assert_one_line_error(
        invoke(store, "export", str(tmp_path / "out.csv"), "-w", "loss <"), 2, "'loss <'"
    )
    assert list(tmp_path.glob("out.*")) == []


def test_copy_between_a_folder_and_s3_round_trips_exactly(
    tmp_path: Path, s3_endpoint: str, s3_bucket: tuple[str, Any]
) -> None:
    folder = FsspecResultTracker(tmp_path / "first")
    for key, results in SAMPLE.items():
        folder.put(key, **results)
    s3 = s3_harness(s3_endpoint, *s3_bucket)
    options = [flag for name, value in s3.options.items() for flag in ("-o", f"{name}={value}")]
    runner = CliRunner()

    up = runner.invoke(cli.cli, [*options, "copy", str(tmp_path / "first"), s3.base])
    assert up.exit_code == 0, up.output
    assert "copied 4 keys" in up.stderr
    down = runner.invoke(cli.cli, [*options, "copy", s3.base, str(tmp_path / "second")])
    assert down.exit_code == 0, down.output

    back = FsspecResultTracker(tmp_path / "second")
    assert list(back.keys()) == sorted(SAMPLE)
    for key, results in SAMPLE.items():
        assert same_results(back.get(key), results)
        assert s3.raw_read(key) == (tmp_path / "first" / key).read_bytes()

    # Again: nothing to do. Then a conflicting key makes the copy fail, listing it.
    again = runner.invoke(cli.cli, [*options, "copy", s3.base, str(tmp_path / "second")])
    assert again.exit_code == 0
    assert "(4 already identical)" in again.stderr
    back.put("exp/trial1", loss=0.0)
    conflict = runner.invoke(cli.cli, [*options, "copy", s3.base, str(tmp_path / "second")])
    assert conflict.exit_code == 1
    assert conflict.stderr.splitlines()[-1].startswith("Error: 1 key already in DEST")
    assert "'exp/trial1'" in conflict.stderr
    assert back.get("exp/trial1") == {"loss": 0.0}
    forced = runner.invoke(
        cli.cli, [*options, "copy", s3.base, str(tmp_path / "second"), "exp", "--overwrite"]
    )
    assert forced.exit_code == 0
    assert same_results(back.get("exp/trial1"), SAMPLE["exp/trial1"])


def test_copy_to_every_backend_with_dest_options(store: StoreHarness, tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    for key, results in SAMPLE.items():
        source.put(key, **results)
    dest_options = [f"--dest-option={name}={value}" for name, value in store.options.items()]
    result = CliRunner().invoke(
        cli.cli, ["copy", str(tmp_path / "source"), store.base, "exp", *dest_options]
    )
    assert result.exit_code == 0, result.output
    assert list(store.tracker.keys()) == ["exp/trial1", "exp/trial10", "exp/trial2"]


def test_copy_with_an_invalid_prefix_writes_nothing(tmp_path: Path) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source.put("a", x=1)
    result = CliRunner().invoke(
        cli.cli, ["copy", str(tmp_path / "source"), str(tmp_path / "dest"), "a//b"]
    )
    assert_one_line_error(result, 2, "'a//b'")
    assert not (tmp_path / "dest").exists()


# -- wait / rm / check -----------------------------------------------------------------


def test_wait(store: StoreHarness) -> None:
    fill(store)
    assert invoke(store, "wait", "exp/trial1", "exp/trial2", "--timeout", "5").exit_code == 0

    timer = threading.Timer(0.3, lambda: store.new_tracker().put("late", x=1))
    timer.start()
    started = time.monotonic()
    result = invoke(store, "wait", "exp/trial1", "late", "-t", "30", "--interval", "0.05")
    timer.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 20

    timed_out = invoke(store, "wait", "exp/trial1", "never", "also/never", "-t", "0.2")
    assert_one_line_error(timed_out, 1, "timed out after 0.2 s", "'never'", "'also/never'")
    assert_one_line_error(invoke(store, "wait", "ok", "bad//key", "-t", "0"), 2, "'bad//key'")


def test_rm(store: StoreHarness) -> None:
    fill(store)
    assert invoke(store, "rm", "exp/trial1").exit_code == 0
    assert "exp/trial1" not in store.tracker

    # An invalid key among valid ones: nothing is deleted.
    assert_one_line_error(invoke(store, "rm", "exp/trial2", "bad//key"), 2, "'bad//key'")
    assert "exp/trial2" in store.tracker
    # A missing key: the others are deleted, the status says what was missing.
    assert_one_line_error(invoke(store, "rm", "exp/trial2", "exp/gone"), 1, "'exp/gone'")
    assert "exp/trial2" not in store.tracker

    refused = invoke(store, "rm", "--prefix", "exp")
    assert_one_line_error(refused, 2, "not deleting 1 key under 'exp' without --yes")
    assert "exp/trial10" in store.tracker
    assert_one_line_error(invoke(store, "rm", "--prefix", ""), 2, "must not be empty")
    usage = invoke(store, "rm", "exp/trial10", "--prefix", "exp")
    assert usage.exit_code == 2
    assert "give either KEYs or --prefix P" in usage.stderr

    done = invoke(store, "rm", "--prefix", "/", "--yes")
    assert done.exit_code == 0
    assert "deleted 2 keys in the store" in done.stderr
    assert list(store.tracker.keys()) == []
    assert_one_line_error(invoke(store, "rm", "-p", "exp", "-y"), 1, "no keys under 'exp'")


def test_check_reports_corrupt_keys(store: StoreHarness) -> None:
    fill(store)
    clean = invoke(store, "check")
    assert clean.exit_code == 0
    assert clean.stdout == ""
    assert "checked 4 keys: 0 corrupt keys" in clean.stderr

    store.raw_write("exp/broken", b"{not json")
    result = invoke(store, "check", "exp")
    assert result.exit_code == 1
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["problem"] == "corrupt"
    assert row["key"] == "exp/broken"
    assert "not valid JSON" in row["detail"]
    assert result.stderr.splitlines()[-1] == (
        "Error: checked 4 keys: 1 corrupt key, 0 temporary files (0 removed)"
    )
    # Reading commands refuse, and point at check.
    assert_one_line_error(invoke(store, "show"), 1, "'exp/broken'", "resulttracker check")
    assert store.raw_read("exp/broken") == b"{not json"


def test_check_fix_removes_old_temporary_files(tmp_path: Path) -> None:
    base = tmp_path / "results"
    tracker = FsspecResultTracker(base)
    tracker.put("exp/a", x=1)
    stray = base / "exp" / ".rttmp-crashed"
    stray.write_bytes(b"{")
    runner = CliRunner()

    found = runner.invoke(cli.cli, ["-b", str(base), "check", "-f", "csv"])
    assert found.exit_code == 1
    assert f"temporary file,,{stray},kept: --fix removes it" in found.stdout

    young = runner.invoke(cli.cli, ["-b", str(base), "check", "--fix"])
    assert young.exit_code == 1  # younger than the default 60 s: kept
    assert stray.exists()

    old = time.time() - 120
    os.utime(stray, (old, old))
    fixed = runner.invoke(cli.cli, ["-b", str(base), "check", "--fix", "-f", "jsonl"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["detail"] == "removed"
    assert not stray.exists()
    assert tracker.get("exp/a") == {"x": 1}

    assert runner.invoke(cli.cli, ["-b", str(base), "check", "--min-age", "-1"]).exit_code == 2


# -- global behaviour ----------------------------------------------------------------


def test_base_from_the_environment(tmp_path: Path) -> None:
    runner = CliRunner(env={"RESULTTRACKER_BASE": str(tmp_path / "from-env")})
    assert runner.invoke(cli.cli, ["put", "k", "x=1"]).exit_code == 0
    assert FsspecResultTracker(tmp_path / "from-env").get("k") == {"x": 1}
    override = runner.invoke(cli.cli, ["-b", str(tmp_path / "flag"), "put", "k", "x=2"])
    assert override.exit_code == 0
    assert FsspecResultTracker(tmp_path / "flag").get("k") == {"x": 2}


def test_an_unreachable_store_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {**s3_options(f"http://127.0.0.1:{port}"), "operation_timeout": 3}
    flags = [flag for name, value in options.items() for flag in ("-o", f"{name}={value}")]
    for command in (["ls"], ["put", "k", "x=1"], ["show"], ["get", "k"]):
        result = CliRunner().invoke(cli.cli, ["-b", "s3://nowhere/base", *flags, *command])
        assert_one_line_error(result, 1, "s3://nowhere/base")


def test_bad_storage_options_are_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.cli, ["-b", str(tmp_path), "-o", "novalue", "ls"])
    assert_one_line_error(result, 2, "storage option 'novalue' is not KEY=VALUE")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.cli, ["-b", str(tmp_path), "--debug", "put", "a//b", "x=1"])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "InvalidKeyError"


def test_version_and_help() -> None:
    runner = CliRunner()
    version = runner.invoke(cli.cli, ["--version"])
    assert version.exit_code == 0
    assert version.stdout.strip() == "resulttracker, version 0.1.0"
    helped = runner.invoke(cli.cli, ["--help"])
    assert helped.exit_code == 0
    for command in [
        "put",
        "get",
        "ls",
        "show",
        "best",
        "summary",
        "export",
        "wait",
        "rm",
        "copy",
        "check",
        "demo",
        "serve",
        "report",
    ]:
        assert f"\n  {command} " in helped.stdout
    assert "_RESULTTRACKER_COMPLETE=bash_source resulttracker" in helped.stdout


def test_shell_completion_lists_keys(store: StoreHarness) -> None:
    fill(store)
    words = ["resulttracker", *global_options(store), "get", "exp/trial1"]
    result = CliRunner().invoke(
        cli.cli,
        [],
        prog_name="resulttracker",
        env={
            "_RESULTTRACKER_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(words),
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["plain,exp/trial1", "plain,exp/trial10"]


@pytest.mark.parametrize("command", ["serve", "report"])
def test_dashboard_commands_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setitem(sys.modules, "resulttracker.web", None)
    args = [command] if command == "serve" else [command, str(tmp_path / "report.html")]
    result = CliRunner().invoke(cli.cli, ["-b", str(tmp_path / "base"), *args])
    assert_one_line_error(result, 2, "pip install 'resulttracker[dashboard]'")
    assert list(tmp_path.iterdir()) == []


def test_missing_cli_extra_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "resulttracker.cli")
    monkeypatch.setitem(sys.modules, "rich", None)
    assert __main__.main(["--help"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "pip install 'resulttracker[cli]'" in line


def test_demo_runs_the_sweep(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    result = CliRunner().invoke(
        cli.cli, ["-b", str(base), "demo", "--trials", "2", "--seeds", "1", "--parallel", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "best: sweep-" in result.stdout
    assert len(list(FsspecResultTracker(base).keys())) == 2


# -- small pieces ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-12", -12),
        ("+3", 3),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e-3", 1e-3),
        ("2E5", 2e5),
        ("nan", math.nan),
        ("NaN", math.nan),
        ("inf", math.inf),
        ("-Infinity", -math.inf),
        ("1_000", "1_000"),
        ("0x10", "0x10"),
        ("true", "true"),
        ("", ""),
        (" 1", " 1"),
        ("1.2.3", "1.2.3"),
        ("adam", "adam"),
    ],
)
def test_parse_value(text: str, value: Any) -> None:
    assert same_value(parse_value(text), value)


def test_parse_storage_options() -> None:
    assert parse_storage_options(
        ["anon=true", "operation_timeout=2.5", "key=AKIA", 'secret="123"', "config_kwargs={}"]
    ) == {
        "anon": True,
        "operation_timeout": 2.5,
        "key": "AKIA",
        "secret": "123",
        "config_kwargs": {},
    }


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "123",
        "true",
        "null",
        '"quoted"',
        "a=b",
        "{not json",
        True,
        5,
        2.5,
        None,
        {"region_name": "eu-west-1"},
        [1, "x"],
    ],
)
def test_storage_options_written_back_read_back_the_same(value: Any) -> None:
    # The demo hands the -o options to its trial processes this way.
    from resulttracker._options import format_storage_options

    (pair,) = format_storage_options({"name": value})
    assert parse_storage_options([pair]) == {"name": value}


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_only_for_long_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli.ProgressBar("quick") as bar:
        bar.update(1, 2)  # under a second: nothing drawn
    assert terminal.getvalue() == ""

    monkeypatch.setattr(cli.output, "PROGRESS_DELAY", 0.0)
    with cli.ProgressBar("slow") as bar:
        bar.update(1, 2)
        bar.update(2, 2, "writing")
    assert "writing" in terminal.getvalue()

    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with cli.ProgressBar("piped") as bar:
        bar.update(1, 2)
    assert pipe.getvalue() == ""


# -- the installed executable ----------------------------------------------------------


def run_command(args: Sequence[str], *, module: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "resulttracker"] if module else [str(EXECUTABLE)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_installed_executable(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "local":
        flags = ["-b", str(tmp_path / "results")]
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket, _ = request.getfixturevalue("s3_bucket")
        options = s3_options(endpoint)
        flags = ["-b", f"s3://{bucket}/base"]
        flags += [flag for name, value in options.items() for flag in ("-o", f"{name}={value}")]

    put = run_command([*flags, "put", "exp/trial1", "loss=0.25", "acc/mean=nan"])
    assert put.returncode == 0, put.stderr
    shown = run_command([*flags, "show", "--format", "csv"], module=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "key,acc/mean,loss\nexp/trial1,nan,0.25\n"
    default = run_command([*flags, "get", "exp/trial1"])
    assert same_results(json.loads(default.stdout), {"loss": 0.25, "acc/mean": math.nan})

    bad = run_command([*flags, "put", "exp//x", "loss=1"])
    assert bad.returncode == 2
    assert bad.stdout == ""
    (line,) = bad.stderr.splitlines()
    assert line.startswith("Error: key 'exp//x'")
    missing = run_command([*flags, "wait", "exp/other", "--timeout", "0.1"])
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "Error: timed out after 0.1 s waiting for key 'exp/other'"
    ]


# -- natural order and terminal safety (issue 12, item 18) ------------------------------

#: Keys of every natural-sort shape; each pair once crashed ``show`` in a table.
SHAPES = [
    "run",
    "run2",
    "run10",
    "2",
    "a1b",
    "a01",
    "a1",
    "1e5",
    "x/\u0663",
    "x/3",
    "y" + "9" * 250,
]


def local_invoke(base: Path, *args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli.cli, ["-b", str(base), *args], **kwargs)


def test_tables_sort_keys_of_every_shape(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    for number, key in enumerate(SHAPES):
        tracker[key] = {"loss": float(number), "acc/mean": 0.5, "acc/sem": 0.1}
        tracker[f"g/{key}/0"] = {"loss": 1.0}
    for args in (
        ["show", "--format", "table"],
        ["show", "--format", "table", "--sort", "loss"],
        ["ls", "--long", "--format", "table"],
        ["summary", "--format", "table", "--depth", "2"],
        ["summary", "g", "--format", "table"],
        ["best", "loss", "--format", "table"],
    ):
        result = local_invoke(tmp_path, *args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    shown = local_invoke(tmp_path, "show", "--format", "table", "--columns", "loss").stdout
    rows = [line.split()[0] for line in shown.splitlines()[2:] if not line.startswith(" g/")]
    listed = [row for row in rows if not row.startswith("g/")]
    assert listed[:10] == [
        "1e5",
        "2",
        "a01",
        "a1",
        "a1b",
        "run",
        "run2",
        "run10",
        "x/3",
        "x/\u0663",
    ]


#: Characters a terminal acts on: ESC (a colour, a screen clear), BEL, a C1 CSI,
#: NEL, DEL, a bidi override and isolate, a line separator, a newline.
HOSTILE = "a\x1b[31mred\x1b[2J\x07\x9b2J\x85\x7f\u202eevil\u2066x\u2028\n"
RAW_CONTROLS = ["\x1b", "\x07", "\x9b", "\x85", "\x7f", "\u202e", "\u2066", "\u2028"]


def assert_terminal_safe(text: str) -> None:
    for character in RAW_CONTROLS:
        assert character not in text, (character, text)


def test_control_characters_are_escaped_in_every_human_format(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    key = "k\u202eyek"  # keys refuse control characters, but not bidi overrides
    tracker.put(key, **{HOSTILE: HOSTILE, "loss": 1.0, f"{HOSTILE}/mean": 2.0})
    for args in (
        ["show", "--format", "table"],
        ["get", key, "--format", "table"],
        ["best", "loss", "--format", "table"],
        ["ls", "--long", "--format", "table"],
        ["summary", "--format", "table", "--depth", "1"],
    ):
        result = local_invoke(tmp_path, *args)
        assert result.exit_code == 0, (args, result.output)
        assert_terminal_safe(result.stdout)
        assert_terminal_safe(result.stderr)
    table = local_invoke(tmp_path, "show", "--format", "table").stdout
    assert "a\\x1b[31mred\\x1b[2J\\x07\\x9b2J\\x85\\x7f\\u202eevil\\u2066x\\u2028\\n" in table
    assert "k\\u202eyek" in table
    # ls prints keys one per line: escaped on a terminal, exact in a pipe.
    assert local_invoke(tmp_path, "ls").stdout == key + "\n"


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_output_is_exact_valid_and_terminal_safe(tmp_path: Path, fmt: str) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker.put("k", **{HOSTILE: HOSTILE})
    for args in (["show", "--format", fmt], ["get", "k", "--format", fmt]):
        result = local_invoke(tmp_path, *args)
        assert result.exit_code == 0, result.output
        assert_terminal_safe(result.stdout)
        parsed = json.loads(result.stdout.splitlines()[0] if fmt == "jsonl" else result.stdout)
        row = parsed[0] if isinstance(parsed, list) else parsed
        assert row[HOSTILE] == HOSTILE


def test_csv_output_keeps_the_data_exact(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker.put("k", **{HOSTILE: HOSTILE})
    result = local_invoke(tmp_path, "show", "--format", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [["key", HOSTILE], ["k", HOSTILE]]


def test_error_lines_and_notes_are_terminal_safe(tmp_path: Path) -> None:
    base = tmp_path / "b\x1b[2J\x9b"
    FsspecResultTracker(base).put("k", x=1)
    (base / "bad").write_bytes(b'{"x": 1e999}')
    exported = local_invoke(base, "export", str(tmp_path / "out\x1b[31m.csv"), "k")
    assert exported.exit_code == 0, exported.output
    assert "exported 1 key to " in exported.stderr
    assert_terminal_safe(exported.stderr)
    failed = local_invoke(base, "get", "bad")
    assert_one_line_error(failed, 1, "corrupt results at key 'bad'", "b\\x1b[2J\\x9b")
    assert_terminal_safe(failed.stderr)
    checked = local_invoke(base, "check", "--format", "table")
    assert checked.exit_code == 1
    assert_terminal_safe(checked.stdout + checked.stderr)
    too_big = local_invoke(base, "put", "k", "x=" + "7" * 5000)
    assert_one_line_error(too_big, 2, "has 5000 digits")
    assert FsspecResultTracker(base).get("k") == {"x": 1}


def test_progress_and_tables_on_a_real_terminal_are_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker.put("k\u202e", **{"v": HOSTILE})
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(cli.output, "stdout_is_terminal", lambda: True)
    assert cli.run(["-b", str(tmp_path), "ls"]) == 0
    assert cli.run(["-b", str(tmp_path), "show"]) == 0
    shown = terminal.getvalue()
    # rich styles the header itself (ESC [1m); nothing from the data gets through.
    assert "\x1b[31m" not in shown
    assert "\x1b[2J" not in shown
    assert_terminal_safe(shown.replace("\x1b[1m", "").replace("\x1b[0m", ""))
    assert "k\\u202e" in shown
    assert "a\\x1b[31mred\\x1b[2J\\x07\\x9b2J" in shown


# -- global options anywhere -------------------------------------------------------------


def test_global_options_work_before_or_after_every_command(store: StoreHarness) -> None:
    fill(store)
    options = global_options(store)
    before = CliRunner().invoke(cli.cli, [*options, "show", "exp", "-f", "jsonl"])
    after = CliRunner().invoke(cli.cli, ["show", "exp", "-f", "jsonl", *options])
    assert before.exit_code == 0, before.output
    assert after.stdout == before.stdout
    assert len(after.stdout.splitlines()) == 3
    for command in cli.cli.commands.values():
        names = {name for parameter in command.params for name in parameter.opts}
        assert {"--base", "-b", "--storage-option", "-o", "--debug"} <= names, command.name


def test_a_global_option_after_the_command_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    FsspecResultTracker(str(first)).put("only-in-first", v=1)
    FsspecResultTracker(str(second)).put("only-in-second", v=2)
    result = CliRunner().invoke(cli.cli, ["--base", str(first), "ls", "--base", str(second)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["only-in-second"]
    # -o pairs given on both sides are merged; a bad one after the command is refused
    bad = CliRunner().invoke(cli.cli, ["--base", str(first), "ls", "-o", "no-equals-sign"])
    assert_one_line_error(bad, 2, "'no-equals-sign' is not KEY=VALUE")


def test_debug_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("not json")
    result = CliRunner().invoke(cli.cli, ["get", "bad", "--base", str(tmp_path), "--debug"])
    assert isinstance(result.exception, CorruptResultError)
    quiet = CliRunner().invoke(cli.cli, ["get", "bad", "--base", str(tmp_path)])
    assert_one_line_error(quiet, 1, "not valid JSON")


# -- a missing base is said (issue 17, item 2) --------------------------------------------

#: Read commands and their arguments; "{out}" is a file the command would write.
READ_COMMANDS = [
    ["show"],
    ["show", "-f", "table"],
    ["ls"],
    ["ls", "--long"],
    ["summary"],
    ["best", "loss"],
    ["get", "exp/trial1"],
    ["export", "{out}/out.csv"],
    ["export", "-", "--format", "jsonl"],
    ["report", "{out}/report.html"],
    ["serve", "--no-browser", "--port", "0"],
    ["check"],
]


@pytest.fixture(params=["folder", "bucket"])
def missing_base(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """A base that does not exist, and the -o options to reach it."""
    if request.param == "folder":
        return str(tmp_path / "no" / "such" / "base"), []
    endpoint = request.getfixturevalue("s3_endpoint")
    options = {**s3_options(endpoint), "operation_timeout": 10}
    flags = [flag for name, value in options.items() for flag in ("-o", f"{name}={value}")]
    return "s3://no-such-bucket-for-resulttracker/base", flags


@pytest.mark.parametrize("placement", ["before", "after"])
@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_on_a_missing_base_exit_1_naming_it(
    missing_base: tuple[str, list[str]], tmp_path: Path, args: list[str], placement: str
) -> None:
    base, flags = missing_base
    out = tmp_path / "out"
    out.mkdir()
    command = [arg.format(out=out) for arg in args]
    options = ["--base", base, *flags]
    argv = [*options, *command] if placement == "before" else [*command, *options]
    result = CliRunner().invoke(cli.cli, argv)
    assert_one_line_error(result, 1, repr(base), "does not exist")
    assert result.stdout == ""
    assert list(out.iterdir()) == []  # export and report wrote nothing
    assert not (tmp_path / "no").exists()  # nor was the base made


def test_a_missing_base_is_named_without_its_credentials() -> None:
    from resulttracker.cli.app import missing_base as error_for

    message = error_for("s3://alice:s3cret@bucket/base").message
    assert "s3cret" not in message
    assert "'s3://alice:***@bucket/base' does not exist" in message


def test_copy_from_a_missing_source_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    source, destination = tmp_path / "no-such-source", tmp_path / "dest"
    result = CliRunner().invoke(cli.cli, ["copy", str(source), str(destination)])
    assert_one_line_error(result, 1, repr(str(source)), "does not exist")
    assert not destination.exists()
    assert not source.exists()


def test_an_empty_base_is_not_a_missing_one(tmp_path: Path) -> None:
    base = tmp_path / "empty"
    base.mkdir()
    for args in (["show"], ["ls"], ["summary"], ["check"]):
        result = local_invoke(base, *args)
        assert result.exit_code == 0, (args, result.output)
        assert "does not exist" not in result.stderr
    assert_one_line_error(local_invoke(base, "get", "k"), 1, "no results at key 'k'")
    assert_one_line_error(local_invoke(base, "best", "loss"), 1, "no best 'loss'")


def test_put_creates_a_missing_folder_base(tmp_path: Path) -> None:
    base = tmp_path / "not" / "yet"
    assert local_invoke(base, "put", "exp/k", "x=1").exit_code == 0
    assert FsspecResultTracker(base).get("exp/k") == {"x": 1}


def test_put_never_creates_a_missing_bucket(s3_endpoint: str) -> None:
    options = {**s3_options(s3_endpoint), "operation_timeout": 10}
    flags = [flag for name, value in options.items() for flag in ("-o", f"{name}={value}")]
    base = "s3://no-such-bucket-for-resulttracker/base"
    result = CliRunner().invoke(cli.cli, ["put", "k", "x=1", "-b", base, *flags])
    assert_one_line_error(result, 1, "no-such-bucket-for-resulttracker", "does not exist")
    assert not FsspecResultTracker(base, **options).exists()


@pytest.mark.parametrize("placement", ["before", "after"])
def test_wait_on_a_missing_base_says_so_once_and_keeps_waiting(
    tmp_path: Path, placement: str
) -> None:
    base = tmp_path / "later"
    timer = threading.Timer(0.5, lambda: FsspecResultTracker(base).put("exp/k", x=1))
    timer.start()
    command = ["wait", "exp/k", "--timeout", "30", "--interval", "0.05"]
    options = ["-b", str(base)]
    argv = [*options, *command] if placement == "before" else [*command, *options]
    result = CliRunner().invoke(cli.cli, argv)
    timer.join()
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"the base {str(base)!r} does not exist yet; waiting for it"
    ]
    timed_out = local_invoke(tmp_path / "never", "wait", "k", "-t", "0.2", "--interval", "0.05")
    assert timed_out.exit_code == 1
    assert timed_out.stderr.splitlines() == [
        f"the base {str(tmp_path / 'never')!r} does not exist yet; waiting for it",
        "Error: timed out after 0.2 s waiting for key 'k'",
    ]
