"""SQL version tags (the revision column), the change feed on SQL, and the upgrade
of version-1 tables (written by resulttracker before the column existed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from resulttracker import Change
from resulttracker.backends.sql import (
    _DOCUMENT,
    SCHEMA_VERSION,
    SQLResultTracker,
    _define_tables,
    _Key,
    _UTCTime,
)

from .sql_harness import SQL_STORES, SQLHarness, drop_tables, server_url, sql_store, unique_table
from .test_feed import apply
from .test_sql_hardening import SERVERS, CountingProxy, via

Model = dict[str, dict[str, object]]


@pytest.fixture(params=SQL_STORES)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLHarness]:
    yield from sql_store(request.param, tmp_path)


def engine_of(harness: SQLHarness) -> sa.Engine:
    return sa.create_engine(harness.base)


def test_every_write_changes_the_version(sql: SQLHarness) -> None:
    tracker = sql.tracker
    tracker.put("a", x=1)
    store = tracker.store
    assert store.versions
    first = {entry.key: entry.version for entry in store.list_versions("")}["a"]
    assert store.read_versioned("a").version == first
    tracker.put("a", x=1)  # the same content: still a new revision
    second = {entry.key: entry.version for entry in store.list_versions("")}["a"]
    assert second != first
    tracker.delete("a")
    assert store.read_versioned("a") == (None, None, None)
    tracker.put("a", x=1)
    third = {entry.key: entry.version for entry in store.list_versions("")}["a"]
    assert third not in (first, second)
    assert [entry.key for entry in store.list_versions("a")] == ["a"]


def test_the_feed_follows_writes_through_and_around_the_library(sql: SQLHarness) -> None:
    tracker = sql.tracker
    model: Model = {}
    for number in range(20):
        tracker.put(f"exp/{number}", loss=number)
        model[f"exp/{number}"] = {"loss": number}
    feed = tracker.watch("exp")
    mirror: Model = {}
    apply(mirror, feed.poll())
    assert mirror == model
    assert feed.poll() == []
    assert feed.last_read == 0
    tracker.put("exp/3", loss=-3)
    model["exp/3"] = {"loss": -3}
    sql.raw_write("exp/4", b'{"loss": -4}')  # another program: DELETE and INSERT
    model["exp/4"] = {"loss": -4}
    tracker.delete("exp/5")
    del model["exp/5"]
    tracker.put("other/1", loss=1)  # outside the prefix
    apply(mirror, feed.poll())
    assert mirror == model
    assert feed.last_read == 2
    tracker.put("exp/6", loss=6)  # the same results again: no change
    assert feed.poll() == []
    tracker.delete("exp/7")
    assert feed.poll() == [Change("delete", "exp/7", None)]


def _make_version_1_table(harness: SQLHarness, rows: dict[str, str]) -> None:
    """The layout resulttracker wrote before version 2: no revision column."""
    metadata = sa.MetaData()
    old_results = sa.Table(
        harness.table,
        metadata,
        sa.Column("key", _Key(), primary_key=True),
        sa.Column("document", _DOCUMENT, nullable=False),
        sa.Column("modified", _UTCTime(), nullable=False),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    old_schema = sa.Table(
        f"{harness.table}_schema",
        metadata,
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        mysql_engine="InnoDB",
    )
    engine = engine_of(harness)
    metadata.create_all(engine)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        connection.execute(sa.insert(old_schema).values(version=1))
        for key, document in rows.items():
            connection.execute(
                sa.insert(old_results).values(key=key, document=document, modified=now)
            )
    engine.dispose()


def _layout(harness: SQLHarness) -> tuple[int, set[str]]:
    engine = engine_of(harness)
    with engine.connect() as connection:
        version = connection.execute(
            sa.text(f"SELECT MAX(version) FROM {harness.table}_schema")
        ).scalar()
        columns = {column["name"] for column in sa.inspect(connection).get_columns(harness.table)}
    engine.dispose()
    return int(version), columns


def test_a_version_1_table_reads_as_it_is_and_upgrades_on_the_first_write(
    sql: SQLHarness,
) -> None:
    _make_version_1_table(sql, {"exp/1": '{"loss": 1}', "exp/2": '{"loss": 2}'})
    reader = sql.new_tracker()
    assert reader["exp/1"] == {"loss": 1}
    assert {record.key for record in reader.scan()} == {"exp/1", "exp/2"}
    feed = reader.watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    assert mirror == {"exp/1": {"loss": 1}, "exp/2": {"loss": 2}}
    assert _layout(sql) == (1, {"key", "document", "modified"})  # reading changed nothing
    writer = sql.new_tracker()
    writer.put("exp/3", loss=3)
    assert _layout(sql) == (SCHEMA_VERSION, {"key", "document", "modified", "revision"})
    assert {record.key: record.results for record in writer.scan()} == {
        "exp/1": {"loss": 1},
        "exp/2": {"loss": 2},
        "exp/3": {"loss": 3},
    }
    # The reader opened before the upgrade still follows the changes, and writes.
    writer.put("exp/1", loss=10)
    apply(mirror, feed.poll())
    assert mirror == {"exp/1": {"loss": 10}, "exp/2": {"loss": 2}, "exp/3": {"loss": 3}}
    reader.put("exp/2", loss=20)
    apply(mirror, feed.poll())
    assert mirror["exp/2"] == {"loss": 20}


def test_a_writer_of_the_old_layout_still_running_is_seen(sql: SQLHarness) -> None:
    """A process of the previous resulttracker keeps writing (document and time,
    no revision) after another one upgraded the table."""
    _make_version_1_table(sql, {"exp/1": '{"loss": 1}'})
    tracker = sql.new_tracker()
    tracker.put("exp/2", loss=2)  # upgrades
    feed = tracker.watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    results, _ = _define_tables(sql.table)
    engine = engine_of(sql)
    with engine.begin() as connection:
        connection.execute(
            sa.update(results)
            .where(results.c.key == "exp/2")
            .values(document='{"loss": 22}', modified=datetime.now(timezone.utc))
        )
    engine.dispose()
    apply(mirror, feed.poll())
    assert mirror == {"exp/1": {"loss": 1}, "exp/2": {"loss": 22}}


def test_many_processes_upgrading_at_once(sql: SQLHarness) -> None:
    _make_version_1_table(sql, {"old": '{"x": 0}'})
    trackers = [SQLResultTracker(sql.base, table=sql.table) for _ in range(4)]
    sql.opened.extend(trackers)
    failures: list[BaseException] = []
    start = threading.Barrier(len(trackers))

    def write(number: int) -> None:
        try:
            start.wait()
            trackers[number].put(f"k/{number}", x=number)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(len(trackers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert _layout(sql) == (SCHEMA_VERSION, {"key", "document", "modified", "revision"})
    assert {record.key for record in trackers[0].scan()} == {"old", "k/0", "k/1", "k/2", "k/3"}


# -- where the version tags meet the pooled, compiled design ----------------------------


def _traced(tracker: SQLResultTracker) -> list[str]:
    """The statements the tracker's SQLite connections run from now on (their
    set-up pragmas left out by :func:`_run`)."""
    statements: list[str] = []
    sa.event.listen(
        tracker._engine,
        "connect",
        lambda connection, _record: connection.set_trace_callback(statements.append),
    )
    return statements


def _run(statements: list[str]) -> list[str]:
    return [text for text in statements if not text.startswith("PRAGMA")]


def test_only_the_version_queries_read_the_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/versions.db"
    tracker = SQLResultTracker(url)
    statements = _traced(tracker)
    tracker.put("exp/1", loss=1)
    tracker.put("exp/1", loss=2)
    assert tracker.get("exp/1") == {"loss": 2}
    assert tracker.get_many(["exp/1", "exp/2"]) == {"exp/1": {"loss": 2}, "exp/2": {}}
    assert [record.key for record in tracker.scan("exp")] == ["exp/1"]
    assert list(tracker.keys()) == ["exp/1"]
    assert len(tracker) == 1
    plain = _run(statements)
    writes = [text for text in plain if text.startswith("INSERT INTO results ")]
    assert len(writes) == 2  # one upsert per put, the revision set in it
    assert all("revision" in text for text in writes)
    reads = [text for text in plain if text.startswith("SELECT") and "results_schema" not in text]
    assert reads
    assert not any("revision" in text for text in reads), reads
    statements.clear()
    store = tracker.store
    assert [entry.key for entry in store.list_versions("exp")] == ["exp/1"]
    assert store.read_versioned("exp/1").document == b'{\n  "loss": 2\n}'
    assert [key for key, _ in store.read_many_versioned(["exp/1", "exp/2"])] == ["exp/1", "exp/2"]
    versioned = _run(statements)
    assert len(versioned) == 3  # one query each
    assert all("revision" in text for text in versioned)
    tracker.close()


@pytest.mark.parametrize("layout", ["version 2", "upgraded from version 1", "version 1"])
def test_a_fresh_reader_checks_the_layout_with_one_query(tmp_path: Path, layout: str) -> None:
    harness = next(sql_store("sqlite", tmp_path))
    try:
        if layout == "version 2":
            harness.new_tracker().put("exp/1", loss=1)
        else:
            _make_version_1_table(harness, {"exp/1": '{"loss": 1}'})
            if layout == "upgraded from version 1":
                harness.new_tracker().put("exp/1", loss=1)
        reader = harness.new_tracker()
        statements = _traced(reader)
        assert reader.get("exp/1") == {"loss": 1}
        assert len(_run(statements)) == 2, statements  # the layout check and the read
    finally:
        harness.close()


def test_a_half_made_upgrade_is_read_and_completed(sql: SQLHarness) -> None:
    """An upgrader that died between the ALTER (which commits on its own on
    MariaDB/MySQL) and the version row: readers read the table as version 1, and
    the next writer records the version without adding the column again."""
    _make_version_1_table(sql, {"exp/1": '{"loss": 1}'})
    engine = engine_of(sql)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(sql.table)} ADD COLUMN revision BIGINT NOT NULL DEFAULT 0"
        )
    engine.dispose()
    reader = sql.new_tracker()
    assert reader["exp/1"] == {"loss": 1}
    assert [entry.key for entry in reader.store.list_versions("")] == ["exp/1"]
    assert _layout(sql) == (1, {"key", "document", "modified", "revision"})
    writer = sql.new_tracker()
    writer.put("exp/2", loss=2)
    assert _layout(sql) == (SCHEMA_VERSION, {"key", "document", "modified", "revision"})
    # The reader, still reading the table as version 1, reads what is written since.
    assert {record.key: record.results for record in reader.scan("exp")} == {
        "exp/1": {"loss": 1},
        "exp/2": {"loss": 2},
    }
    assert reader.get_many(["exp/2"]) == {"exp/2": {"loss": 2}}


@pytest.mark.parametrize("server", SERVERS)
def test_each_version_query_is_one_round_trip(server: str) -> None:
    target = sa.make_url(server_url(server))
    proxy = CountingProxy(target.host or "127.0.0.1", target.port or 0)
    table = unique_table()
    tracker = SQLResultTracker(via(str(target), proxy.port), table=table)
    truth = sa.create_engine(server_url(server))
    store = tracker.store
    try:
        for number in range(10):
            tracker.put(f"k/{number}", x=number)
        store.read_versioned("k/0")
        for operation in (
            lambda: list(store.list_versions("")),
            lambda: list(store.list_versions("k")),
            lambda: store.read_versioned("k/1"),
            lambda: store.read_versioned("missing"),
            lambda: list(store.read_many_versioned([f"k/{n}" for n in range(10)])),
        ):
            before = proxy.requests
            operation()
            time.sleep(0.1)
            assert proxy.requests - before == 1
        before = proxy.requests
        tracker.put("k/1", x=-1)  # the revision's + 1 is in the one upsert
        time.sleep(0.1)
        assert proxy.requests - before == 1
    finally:
        tracker.close()
        proxy.close()
        drop_tables(truth, table)
        truth.dispose()
