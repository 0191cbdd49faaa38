"""Harnesses for the SQL backend: SQLite in a temporary folder, and PostgreSQL and
MariaDB servers named by environment variables.

Ground truth is plain SQL on the results table through a separate engine, never
through :class:`~resulttracker.backends.sql.SQLResultTracker`. Every harness uses
tables of its own (unique per process and test), dropped afterwards, so runs on
a shared server never interfere.

A server that cannot be reached skips its tests with a message saying how to
start it, except when the ``CI`` environment variable is set: then it fails, so
that CI can never pass without having run them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from resulttracker.backends.sql import SQLResultTracker

from .conftest import StoreHarness

SQL_STORES = ("sqlite", "postgres", "mariadb")

POSTGRES_URL = os.environ.get(
    "RESULTTRACKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get(
    "RESULTTRACKER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)

HOW_TO_START = {
    "postgres": (
        "start PostgreSQL on 127.0.0.1:5432 with trust authentication and a database "
        "'test', e.g. `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
        "-e POSTGRES_DB=test postgres:16`, or point RESULTTRACKER_TEST_POSTGRES_URL at "
        "another server"
    ),
    "mariadb": (
        "start MariaDB on 127.0.0.1:3306 with user root, an empty password and a database "
        "'test', e.g. `docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 "
        "-e MARIADB_DATABASE=test mariadb:11`, or point RESULTTRACKER_TEST_MYSQL_URL at "
        "another server"
    ),
}

_table_numbers = itertools.count()
_reachable: dict[str, str | None] = {}


def server_url(name: str) -> str:
    """The URL of the ``postgres`` or ``mariadb`` test server; skips (or, under CI,
    fails) the test if it cannot be reached."""
    url = POSTGRES_URL if name == "postgres" else MYSQL_URL
    if url not in _reachable:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect():
                _reachable[url] = None
        except Exception as error:
            _reachable[url] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        finally:
            engine.dispose()
    problem = _reachable[url]
    if problem is not None:
        message = f"{name} server unreachable ({problem}); {HOW_TO_START[name]}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
        pytest.skip(message)
    return url


def unique_table() -> str:
    """A table name no other test, process or concurrent run uses."""
    return f"rt{os.getpid()}_{next(_table_numbers)}_{secrets.token_hex(3)}"


def drop_tables(engine: sa.Engine, *tables: str) -> None:
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        for table in tables:
            for name in (table, f"{table}_schema"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")


@dataclass
class SQLHarness(StoreHarness):
    """A SQL table under test; ``raw_*`` run plain SQL on it."""

    table: str = ""
    opened: list[SQLResultTracker] = field(default_factory=list)

    def new_tracker(self, base: str | None = None) -> SQLResultTracker:
        tracker = SQLResultTracker(base or self.base, **self.options)
        self.opened.append(tracker)
        return tracker

    def isolated_tracker(self) -> SQLResultTracker:
        """A tracker on another table of the same database."""
        tracker = SQLResultTracker(self.base, **{**self.options, "table": f"{self.table}_other"})
        self.opened.append(tracker)
        return tracker

    def location_of(self, key: str) -> str:
        return f"#{self.table}/{key}"

    def close(self) -> None:
        for tracker in self.opened:
            tracker.close()


def sql_harness(name: str, url: str, table: str, engine: sa.Engine) -> SQLHarness:
    """A harness for ``table`` at ``url``; ``engine`` is the ground-truth connection."""
    dialect = engine.dialect.name
    quote = engine.dialect.identifier_preparer.quote
    qualified = quote(table)
    key_column = quote("key")
    harness: SQLHarness

    def table_exists() -> bool:
        return sa.inspect(engine).has_table(table)

    def raw_write(key: str, data: bytes) -> None:
        if not table_exists():
            # The tracker creates its tables on first write; make it do so now.
            harness.tracker._prepare(create=True)
        now = datetime.now(timezone.utc)
        document: object = data
        modified: object = now
        value = ":document"
        if dialect == "postgresql":
            # convert_from checks the bytes are UTF-8, as any text write must.
            value = "convert_from(:document, 'UTF8')"
        elif dialect == "sqlite":
            # SQLite stores what it is given: bytes that are not UTF-8 become a BLOB,
            # as another program writing them would leave them.
            modified = now.strftime("%Y-%m-%d %H:%M:%S.%f")
            with contextlib.suppress(UnicodeDecodeError):
                document = data.decode("utf-8")
        else:
            # Bytes sent to a utf8mb4 column are checked (strict mode is the default).
            modified = now.replace(tzinfo=None)
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"DELETE FROM {qualified} WHERE {key_column} = :key"), {"key": key}
            )
            connection.execute(
                sa.text(
                    f"INSERT INTO {qualified} ({key_column}, document, modified) "
                    f"VALUES (:key, {value}, :modified)"
                ),
                {"key": key, "document": document, "modified": modified},
            )

    def raw_read(key: str) -> bytes | None:
        if not table_exists():
            return None
        with engine.connect() as connection:
            document = connection.execute(
                sa.text(f"SELECT document FROM {qualified} WHERE {key_column} = :key"),
                {"key": key},
            ).scalar()
        if document is None:
            return None
        return document.encode("utf-8") if isinstance(document, str) else bytes(document)

    def raw_names() -> set[str]:
        if not table_exists():
            return set()
        with engine.connect() as connection:
            keys = connection.execute(sa.text(f"SELECT {key_column} FROM {qualified}")).scalars()
            return {key.decode("utf-8") if isinstance(key, bytes) else key for key in keys}

    harness = SQLHarness(
        name,
        url,
        {"table": table},  # what another process needs to open the same store
        raw_write,
        raw_read,
        raw_names,
        text_only=dialect != "sqlite",
        # What SQLAlchemy shows: the user name, never the password.
        shown_base=sa.make_url(url).render_as_string(hide_password=True),
        table=table,
    )
    return harness


def sql_store(name: str, tmp_path: Path) -> Iterator[SQLHarness]:
    """The ``store`` fixture's SQL backends: yield a harness on fresh tables, then
    drop them."""
    url = f"sqlite:///{tmp_path}/results.db" if name == "sqlite" else server_url(name)
    table = unique_table()
    engine = sa.create_engine(url)
    harness = sql_harness(name, url, table, engine)
    try:
        yield harness
    finally:
        harness.close()
        drop_tables(engine, table, f"{table}_other")
        engine.dispose()
