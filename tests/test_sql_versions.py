"""SQL version tags (the revision column), the change feed on SQL, and the upgrade
of version-1 tables (written by resulttracker before the column existed)."""

from __future__ import annotations

import threading
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

from .sql_harness import SQL_STORES, SQLHarness, sql_store
from .test_feed import apply

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
