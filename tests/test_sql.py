"""Behaviour of the SQL backend beyond the conformance suite: concurrency, schema
versions, key ordering, credentials, optional dependencies."""

from __future__ import annotations

import logging
import multiprocessing
import sys
import traceback
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from resulttracker import CorruptResultError, StoreError, open_tracker
from resulttracker.api import BATCH_SIZE
from resulttracker.backends.sql import SCHEMA_VERSION, SQLResultTracker
from resulttracker.validation import key_has_prefix

from .sql_harness import (
    SQL_STORES,
    SQLHarness,
    drop_tables,
    server_url,
    sql_store,
    unique_table,
)
from .test_conformance import same_results

WRITERS = 16
KEYS_PER_WRITER = 20


@pytest.fixture(params=SQL_STORES)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLHarness]:
    """Each SQL database in turn, with fresh tables."""
    yield from sql_store(request.param, tmp_path)


def ground_truth(harness: SQLHarness) -> sa.Engine:
    return sa.create_engine(harness.base)


def table_names(harness: SQLHarness) -> set[str]:
    engine = ground_truth(harness)
    try:
        return set(sa.inspect(engine).get_table_names()) & {
            harness.table,
            f"{harness.table}_schema",
        }
    finally:
        engine.dispose()


# -- concurrency ---------------------------------------------------------------------------


def _write_keys(url: str, table: str, worker: int, barrier: object, errors: object) -> None:
    try:
        tracker = SQLResultTracker(url, table=table)
        barrier.wait()  # type: ignore[attr-defined]
        for number in range(KEYS_PER_WRITER):
            tracker[f"w{worker}/k{number}"] = {"worker": worker, "n": number}
            # Every writer also overwrites one shared row: contention on one key.
            tracker["shared"] = {"worker": worker, "n": number}
        tracker.close()
    except BaseException:
        errors.put(f"writer {worker}: {traceback.format_exc()}")  # type: ignore[attr-defined]
        raise


def test_sixteen_processes_write_without_loss_or_error(sql: SQLHarness) -> None:
    # The tables do not exist yet: all writers also race to create them.
    assert table_names(sql) == set()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WRITERS)
    errors = context.Queue()
    workers = [
        context.Process(target=_write_keys, args=(sql.base, sql.table, n, barrier, errors))
        for n in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    assert [worker.exitcode for worker in workers] == [0] * WRITERS
    expected = {f"w{w}/k{n}" for w in range(WRITERS) for n in range(KEYS_PER_WRITER)}
    assert sql.raw_names() == expected | {"shared"}
    tracker = sql.new_tracker()
    got = tracker.get_many(sorted(expected))
    assert all(got[f"w{w}/k{n}"] == {"worker": w, "n": n} for w, n in _pairs())
    assert tracker["shared"]["n"] == KEYS_PER_WRITER - 1
    assert len(tracker) == len(expected) + 1


def _pairs() -> Iterator[tuple[int, int]]:
    for worker in range(WRITERS):
        for number in range(KEYS_PER_WRITER):
            yield worker, number


def test_a_tracker_keeps_working_in_a_forked_child(sql: SQLHarness) -> None:
    tracker = sql.tracker
    tracker["parent/before"] = {"x": 1}
    context = multiprocessing.get_context("fork")
    child = context.Process(target=lambda: tracker.put("child", x=2))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    tracker["parent/after"] = {"x": 3}
    assert tracker.get_many(["parent/before", "child", "parent/after"]) == {
        "parent/before": {"x": 1},
        "child": {"x": 2},
        "parent/after": {"x": 3},
    }


def test_sqlite_uses_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wal.db"
    tracker = SQLResultTracker(url)
    tracker["k"] = {"x": 1}
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    tracker.close()


def test_sqlite_text_that_is_not_utf8_is_reported_as_corrupt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/corrupt.db"
    tracker = SQLResultTracker(url)
    tracker["good"] = {"x": 1}
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        # Invalid UTF-8 typed as TEXT, as a careless C program could leave it.
        connection.exec_driver_sql(
            "INSERT INTO results (key, document, modified) "
            "VALUES ('bad', CAST(x'7b2261223a2022ff227d' AS TEXT), "
            "'2024-01-01 00:00:00.000000')"
        )
    engine.dispose()
    for attempt in (
        lambda: tracker.get("bad"),
        lambda: tracker.get_many(["good", "bad"]),
        lambda: list(tracker.scan()),
    ):
        with pytest.raises(CorruptResultError, match=r"'bad'.*not valid UTF-8"):
            attempt()
    assert tracker["good"] == {"x": 1}
    tracker.close()


# -- tables and schema versions -------------------------------------------------------------


def test_reads_do_not_create_tables_and_the_first_write_does(sql: SQLHarness) -> None:
    tracker = sql.tracker
    assert tracker.get("k") == {}
    assert tracker.get_many(["k", "l"]) == {"k": {}, "l": {}}
    assert list(tracker.keys()) == []
    assert list(tracker.scan("x")) == []
    assert len(tracker) == 0
    assert tracker.delete("k") is False
    assert table_names(sql) == set()
    tracker["k"] = {"x": 1}
    assert table_names(sql) == {sql.table, f"{sql.table}_schema"}
    engine = ground_truth(sql)
    with engine.connect() as connection:
        versions = connection.exec_driver_sql(f"SELECT version FROM {sql.table}_schema").all()
    engine.dispose()
    assert versions == [(SCHEMA_VERSION,)]


def _make_tables(harness: SQLHarness, version: int | None) -> None:
    """Create a results table by hand, with a schema table holding ``version``
    (no schema table at all if ``None``), and one row."""
    engine = ground_truth(harness)
    key = "`key`" if engine.dialect.name == "mysql" else '"key"'
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {harness.table} ({key} VARCHAR(100) PRIMARY KEY, document TEXT)"
        )
        connection.exec_driver_sql(f"INSERT INTO {harness.table} VALUES ('old', '{{}}')")
        if version is not None:
            connection.exec_driver_sql(
                f"CREATE TABLE {harness.table}_schema (version INTEGER PRIMARY KEY)"
            )
            connection.exec_driver_sql(f"INSERT INTO {harness.table}_schema VALUES ({version})")
    engine.dispose()


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (0, r"layout version 0, written by an older resulttracker"),
        (SCHEMA_VERSION + 1, rf"layout version {SCHEMA_VERSION + 1}, written by a newer"),
        (None, r"was not created by resulttracker"),
    ],
)
def test_a_table_in_another_layout_is_refused(
    sql: SQLHarness, version: int | None, message: str
) -> None:
    _make_tables(sql, version)
    for attempt in (
        lambda: sql.new_tracker().put("k", x=1),
        lambda: sql.new_tracker().get("old"),
        lambda: list(sql.new_tracker().keys()),
    ):
        with pytest.raises(StoreError, match=message) as caught:
            attempt()
        assert f"table {sql.table!r}" in str(caught.value)
        assert "table=" in str(caught.value)  # says what to do
    assert sql.raw_names() == {"old"}


# -- keys --------------------------------------------------------------------------------


def test_percent_and_underscore_in_prefixes_are_literal(sql: SQLHarness) -> None:
    keys = ["a%", "a%/x", "a_", "a_/y", "ab/z", "aX/w", "a%b", "abc", "a_b/c"]
    for key in keys:
        sql.tracker[key] = {"key": key}
    assert list(sql.tracker.keys("a%")) == ["a%", "a%/x"]
    assert list(sql.tracker.keys("a_")) == ["a_", "a_/y"]
    assert [record.key for record in sql.tracker.scan("a_")] == ["a_", "a_/y"]
    assert list(sql.tracker.keys("a%b")) == ["a%b"]
    assert list(sql.tracker.keys("%")) == []
    assert list(sql.tracker.keys("_")) == []


def test_keys_compare_like_python_strings(sql: SQLHarness) -> None:
    # Case-sensitive, trailing spaces significant, ordered by code point.
    keys = ["A", "a", "a ", "é", "z", "Z", "~", "😀", "ｚ", "a/b", "a-b", "a.b", "a0", "Ä"]
    for number, key in enumerate(keys):
        sql.tracker[key] = {"n": number}
    assert list(sql.tracker.keys()) == sorted(keys)
    assert [record.key for record in sql.tracker.scan()] == sorted(keys)
    for number, key in enumerate(keys):
        assert sql.tracker[key] == {"n": number}
    assert sql.raw_names() == set(keys)
    assert sql.tracker.delete("a ") is True
    assert sql.tracker["a"] == {"n": 1}


def test_the_longest_keys_round_trip(sql: SQLHarness) -> None:
    segment = "é" * 127  # 254 bytes
    key = "/".join([segment] * 4) + "/" + "x" * 4  # 4 * 255 + 4 = 1024 bytes
    assert len(key.encode()) == 1024
    sql.tracker[key] = {"x": 1}
    assert sql.tracker[key] == {"x": 1}
    assert list(sql.tracker.keys(segment)) == [key]
    assert sql.raw_names() == {key}


def test_scan_of_a_prefix_over_several_batches(
    sql: SQLHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resulttracker.backends import sql as sql_backend

    # Batches of at most 100 rows: 11 batches, the last one short.
    monkeypatch.setattr(sql_backend, "_SCAN_BATCH_ROWS", 100)
    sql.tracker["p"] = {"n": -1}
    keys = [f"p/{number:05d}" for number in range(BATCH_SIZE + 5)]
    neighbours = ["p-x", "p.x", "p0", "o/z", "q"]  # sort around p/... but are not under p
    sql.tracker.put(neighbours[0], n=0)
    for key in neighbours[1:]:
        sql.raw_write(key, b'{"n": 0}')
    for number, key in enumerate(keys):
        sql.raw_write(key, b'{"n": %d}' % number)
    records = list(sql.tracker.scan("p"))
    assert [record.key for record in records] == ["p", *keys]
    assert [record.results["n"] for record in records] == [-1, *range(len(keys))]
    assert all(record.modified and record.modified.tzinfo == timezone.utc for record in records)
    assert list(sql.tracker.keys("p")) == ["p", *keys]


def test_a_postgres_scan_of_a_table_not_yet_analysed_pages_through_the_key_index(
    tmp_path: Path,
) -> None:
    # Without statistics the planner estimates few rows match "key > ''" and
    # would scan and sort the whole table for every page (quadratic in its size).
    for harness in sql_store("postgres", tmp_path):
        for number in range(3 * BATCH_SIZE):
            harness.raw_write(f"k{number:05d}", b'{"n": 1}')
        tracker = harness.tracker
        assert tracker.get("k00000") == {"n": 1}  # the tables' layout is checked once
        assert isinstance(tracker, SQLResultTracker)
        sql, parameters = tracker._sql.scan("", None, BATCH_SIZE)
        pooled = tracker._pool.take()
        try:
            pooled.cursor.execute("EXPLAIN " + sql, parameters)
            plan = "\n".join(row[0] for row in pooled.cursor.fetchall())
        finally:
            tracker._pool.give(pooled)
        assert "Index Scan" in plan, plan
        assert "Sort" not in plan, plan
        assert len(list(tracker.scan())) == 3 * BATCH_SIZE


def test_modified_time_follows_the_last_write(sql: SQLHarness) -> None:
    sql.tracker["k"] = {"x": 1}
    (first,) = sql.tracker.scan()
    sql.tracker["k"] = {"x": 2}
    (second,) = sql.tracker.scan()
    assert first.modified is not None
    assert second.modified is not None
    assert second.modified >= first.modified
    assert second.modified.utcoffset() is not None


# -- URLs, credentials and optional dependencies ------------------------------------------


def test_open_tracker_dispatches_sql_urls(tmp_path: Path) -> None:
    sqlite = open_tracker(f"sqlite:///{tmp_path}/x.db", table="runs")
    assert isinstance(sqlite, SQLResultTracker)
    assert sqlite.table == "runs"
    postgres = open_tracker("postgresql://user@127.0.0.1:1/db")
    mysql = open_tracker("mysql://user@127.0.0.1:1/db")
    mariadb = open_tracker("mariadb://user@127.0.0.1:1/db")
    assert isinstance(postgres, SQLResultTracker)
    # A URL without a driver gets the one the extra installs.
    assert postgres._engine.dialect.driver == "psycopg"
    assert isinstance(mysql, SQLResultTracker)
    assert mysql._engine.dialect.driver == "pymysql"
    assert isinstance(mariadb, SQLResultTracker)
    assert mariadb._engine.dialect.driver == "pymysql"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://alice:Sup3r-S3cret@127.0.0.1:1/test",
        "mysql+pymysql://alice:Sup3r-S3cret@127.0.0.1:1/test",
    ],
)
def test_credentials_stay_out_of_repr_errors_and_logs(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tracker = SQLResultTracker(url, echo="debug", echo_pool="debug", connect_args={})
    assert "Sup3r-S3cret" not in repr(tracker)
    assert "alice:***@127.0.0.1:1/test" in repr(tracker)
    for attempt in (lambda: tracker.put("k", x=1), lambda: tracker.get("k")):
        with pytest.raises(StoreError) as caught:
            attempt()
        error = caught.value
        assert isinstance(error, OSError)
        assert "alice:***@127.0.0.1:1/test" in str(error)
        assert "Sup3r-S3cret" not in "".join(traceback.format_exception(error))
        assert "Sup3r-S3cret" not in repr(error)
    assert "Sup3r-S3cret" not in caplog.text
    tracker.close()


def test_bad_urls_and_table_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"names the database 'oracle'.*supports sqlite://"):
        SQLResultTracker("oracle://scott:tiger@host/db")
    for table in ["", "1abc", "a-b", "a b", 'x"; DROP TABLE y', "t" * 57, 7]:
        with pytest.raises(ValueError, match="table must be a plain SQL identifier"):
            SQLResultTracker(f"sqlite:///{tmp_path}/x.db", table=table)  # type: ignore[arg-type]


def test_without_sqlalchemy_open_tracker_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.delitem(sys.modules, "resulttracker.backends.sql")
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[sql\]'"):
        open_tracker(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[postgres\]'"):
        open_tracker("postgresql+psycopg://u@127.0.0.1/db")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("url", "driver", "extra"),
    [
        ("postgresql+psycopg://u@127.0.0.1/db", "psycopg", "postgres"),
        ("mysql+pymysql://u@127.0.0.1/db", "pymysql", "mysql"),
    ],
)
def test_a_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, driver: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)
    with pytest.raises(ImportError, match=rf"pip install 'resulttracker\[{extra}\]'"):
        SQLResultTracker(url)


def test_an_unreachable_server_is_a_store_error_naming_the_operation() -> None:
    tracker = SQLResultTracker("postgresql+psycopg://u@127.0.0.1:1/db")
    with pytest.raises(
        StoreError,
        match=r"checking the table layout failed \(table 'results' in .*127\.0\.0\.1:1/db\)",
    ):
        tracker.get("k")


def test_tables_of_one_database_are_independent(sql: SQLHarness) -> None:
    other_table = unique_table()
    other = SQLResultTracker(sql.base, table=other_table)
    try:
        sql.tracker["k"] = {"x": 1}
        other["k"] = {"x": 2}
        other["only/here"] = {"x": 3}
        assert sql.tracker["k"] == {"x": 1}
        assert list(sql.tracker.keys()) == ["k"]
        assert list(other.keys()) == ["k", "only/here"]
    finally:
        other.close()
        engine = ground_truth(sql)
        drop_tables(engine, other_table)
        engine.dispose()


# -- model-based ---------------------------------------------------------------------------

# Keys chosen to sit next to each other in every collation that is not bytewise.
MODEL_KEYS = ["a", "a/b", "a/b/c", "a-b", "a0", "A", "a ", "a%", "a%/x", "a_", "ab", "é", "b"]
MODEL_PREFIXES = ["", "a", "a/b", "a%", "a_", "A", "b", "é"]
VALUES = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.booleans()
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
)


class SQLAgreesWithADict(RuleBasedStateMachine):
    """Random puts, gets, deletes and listings on a SQL table and on a dict agree."""

    url = ""

    def __init__(self) -> None:
        super().__init__()
        self.table = unique_table()
        self.tracker = SQLResultTracker(self.url, table=self.table)
        self.model: dict[str, dict[str, object]] = {}

    @rule(key=st.sampled_from(MODEL_KEYS), value=VALUES)
    def put(self, key: str, value: object) -> None:
        self.tracker[key] = {"v": value}  # type: ignore[dict-item]
        self.model[key] = {"v": value}

    @rule(key=st.sampled_from(MODEL_KEYS))
    def delete(self, key: str) -> None:
        assert self.tracker.delete(key) is (self.model.pop(key, None) is not None)

    @rule(key=st.sampled_from(MODEL_KEYS))
    def get(self, key: str) -> None:
        assert same_results(self.tracker.get(key), self.model.get(key, {}))

    @rule(prefix=st.sampled_from(MODEL_PREFIXES))
    def listing(self, prefix: str) -> None:
        expected = sorted(key for key in self.model if key_has_prefix(key, prefix))
        assert list(self.tracker.keys(prefix)) == expected
        records = list(self.tracker.scan(prefix))
        assert [record.key for record in records] == expected
        assert all(same_results(r.results, self.model[r.key]) for r in records)

    @invariant()
    def length(self) -> None:
        assert len(self.tracker) == len(self.model)

    def teardown(self) -> None:
        self.tracker.close()
        engine = sa.create_engine(self.url)
        drop_tables(engine, self.table)
        engine.dispose()


@pytest.mark.parametrize("name", SQL_STORES)
def test_sql_agrees_with_a_dict(name: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/model.db" if name == "sqlite" else server_url(name)
    machine = type(f"Model_{name}", (SQLAgreesWithADict,), {"url": url})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None),
    )


def test_sqlite_file_in_a_missing_folder_is_created_by_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "results.db"
    tracker = SQLResultTracker(f"sqlite:///{path}")
    assert tracker.get("k") == {}
    assert list(tracker.keys()) == []
    assert not path.parent.exists()  # reading creates nothing
    tracker["k"] = {"x": 1}
    assert path.is_file()
    assert SQLResultTracker(f"sqlite:///{path}")["k"] == {"x": 1}
    tracker.close()


def test_a_table_not_written_yet_is_a_missing_base(sql: SQLHarness) -> None:
    # The base of a SQL store is its table, made by the first write as a folder
    # is: a mistyped table name is said by exists() and by the reading commands.
    from click.testing import CliRunner

    from resulttracker import cli

    other = SQLResultTracker(sql.base, **{**sql.options, "table": f"{sql.table}_typo"})
    assert other.exists() is False
    assert list(other.keys()) == []  # the library keeps torchx's contract
    options = [
        f"-o{name}={value}" for name, value in {**sql.options, "table": f"{sql.table}_typo"}.items()
    ]
    shown = CliRunner().invoke(cli.cli, ["show", "--base", sql.base, *options])
    assert shown.exit_code == 1
    assert "does not exist" in shown.stderr
    assert "Traceback" not in shown.stderr
    assert other.exists() is False  # reading created nothing
    sql.tracker.put("k", x=1)
    assert sql.tracker.exists() is True
    sql.tracker.delete("k")
    assert sql.tracker.exists() is True  # an empty table is an empty store, not a missing one


def test_a_mistyped_sqlite_file_is_a_missing_base(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from resulttracker import cli

    url = f"sqlite:///{tmp_path}/typo.db"
    assert SQLResultTracker(url).exists() is False
    result = CliRunner().invoke(cli.cli, ["ls", "--base", url])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no empty database file was made
