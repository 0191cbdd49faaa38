"""``SQLResultTracker``: one row per key in a SQL table (SQLite, PostgreSQL, MariaDB/MySQL).

The table holds the key, the results document exactly as :mod:`resulttracker.codec`
encodes it (as text), the UTC time of the last write and a revision that every
write changes (layout version 2; a table of version 1 is read as it is and gains
the column on its first write, see :meth:`SQLResultTracker._make_schema`). A
second table, ``<table>_schema``, records the layout version so that a table
written by another version of resulttracker (or by something else entirely) is
refused rather than misread.

Built on SQLAlchemy 2 Core. Per dialect:

* **Keys compare bytewise**, so that ordering and equality are those of Python's
  ``str`` (case-sensitive, no trailing-space padding): SQLite's default ``BINARY``
  collation, PostgreSQL ``COLLATE "C"``, and on MariaDB/MySQL a ``VARBINARY(1024)``
  holding the UTF-8 bytes (a binary column has no pad-space collation, and 1024
  bytes fit InnoDB's 3072-byte index limit where ``utf8mb4`` ``VARCHAR(1024)``
  would not).
* **Writes are one upsert statement**: ``INSERT ... ON CONFLICT DO UPDATE``
  (SQLite, PostgreSQL) or ``INSERT ... ON DUPLICATE KEY UPDATE`` (MariaDB/MySQL).
  An insert gives the row a random revision, an update adds one to it.
* **Version tags** (the change feed, :meth:`~resulttracker.store.Store.list_versions`)
  are ``r:<revision>:<modified>``, read only by the queries that list or read
  versions: ``get``, ``put`` and ``scan`` never read the revision.
* **Prefix queries are index ranges**: ``key = p`` or ``p/ <= key < p0`` ('0' is
  the character after '/'), never ``LIKE``, so ``%`` and ``_`` are literal.
* **One round trip per operation**: every connection is in autocommit, so a
  ``get`` is one ``SELECT`` and a ``put`` one upsert, each its own transaction
  (no ``BEGIN``/``COMMIT``); only the table creation opens a transaction. The
  hot paths run statements compiled once (per process, table and server flavour,
  :class:`_Statements`) on DB-API connections of a light pool (:class:`_Pool`),
  with no SQLAlchemy ``Connection`` or result objects in between.
* **Concurrency**: SQLite runs in WAL mode with a busy timeout; MariaDB/MySQL
  sessions use READ COMMITTED; every dialect retries a bounded number of times
  on lock contention (``database is locked``, deadlock, serialization failure),
  within the lock timeout. A single-row upsert is idempotent, so a retry can
  never apply a write twice.
* **Every wait is bounded** (:class:`Timeouts`, set up in one place,
  :func:`_create_engine`): connecting, each statement, each lock wait and each
  pool checkout; a server that stops answering mid-statement is cut off by the
  driver's read timeout (PyMySQL) or by :class:`_Watchdog` (psycopg, which has
  no client-side read timeout).
* **Credentials never leave**: everything shown goes through
  :func:`~resulttracker._urls.redact_url`, and driver messages (which may echo
  a connection string) through :class:`_Secrets` before they become a
  :class:`~resulttracker.errors.StoreError`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import math
import operator
import os
import random
import re
import socket
import sqlite3
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url

from .. import codec
from .._urls import SECRET_PARAMETER as _SECRET_PARAMETER
from .._urls import redact_url
from ..api import StoreTracker, _check_duration
from ..errors import CorruptResultError, ResultTrackerError, StoreError
from ..model import Record
from ..store import Listed, Store, Versioned
from ..validation import KeyType, Results, normalize_key

__all__ = ["SCHEMA_VERSION", "SQLResultTracker", "Timeouts"]

T = TypeVar("T")

#: The version of the table layout this module reads and writes.
SCHEMA_VERSION = 2
#: Older layouts this module reads as they are and upgrades on the first write.
_UPGRADABLE_VERSIONS = (1,)

#: The results table's columns in layout version 2, and in version 1 (no revision).
_COLUMNS = ["document", "key", "modified", "revision"]
_COLUMNS_V1 = ["document", "key", "modified"]

#: Dialect name -> (driver used when the URL names none, extra that installs it).
_DIALECTS = {
    "sqlite": ("pysqlite", "sql"),
    "postgresql": ("psycopg", "postgres"),
    "mysql": ("pymysql", "mysql"),
    "mariadb": ("pymysql", "mysql"),
}

#: Table names: a plain identifier, short enough for ``<table>_schema`` to fit the
#: 63-character limit of PostgreSQL and the 64 of MariaDB.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,55}")

#: Longest stored key in UTF-8 bytes (the validation limit).
_KEY_BYTES = 1024

#: Keys per ``IN (...)`` query; well below every dialect's bound-parameter limit.
_READ_CHUNK = 500

#: Attempts of one operation when the database reports lock contention (all
#: within the lock timeout).
_MAX_ATTEMPTS = 12

#: Rows of one scan batch stop at this many bytes of documents (and at
#: _SCAN_BATCH_ROWS rows), so that a scan of large documents holds a few MiB at most.
_SCAN_BATCH_BYTES = 1024 * 1024

#: Most rows of one scan batch: enough that a scan of small documents costs a
#: few queries, few enough that the rows' Python objects stay a few MiB.
_SCAN_BATCH_ROWS = 10_000

#: Rows read from a cursor at a time while a scan batch is filled.
_SCAN_FETCH_ROWS = 64

#: Rows of the first scan batch on a server whose client cursor holds a whole
#: result (psycopg): small, until the documents' size is known.
_FIRST_SERVER_BATCH = 16

#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock.
_PG_TRANSIENT = {"40001", "40P01"}
#: MariaDB/MySQL error numbers worth retrying: deadlock.
_MYSQL_TRANSIENT = {1213}
#: Errors that mean a timeout ran out (never retried: the time is spent).
_PG_LOCK_TIMEOUT, _PG_CANCELED = "55P03", "57014"
_MYSQL_LOCK_TIMEOUT = 1205
_MYSQL_STATEMENT_TIMEOUTS = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
_MYSQL_LOST = {2006, 2013}  # gone away, lost connection (a read timeout ends so)


@dataclass(frozen=True)
class Timeouts:
    """The bounds on every wait of a :class:`SQLResultTracker`, in seconds.

    Attributes
    ----------
    connect : float, default 10
        Opening a connection to a server (PostgreSQL rounds up, and to at least
        2 s, as libpq does).
    statement : float, default 60
        One statement on the server (PostgreSQL ``statement_timeout``, MariaDB
        ``max_statement_time``, MySQL ``max_execution_time``). The client stops
        waiting for an answer ``statement + min(statement, 5)`` seconds after
        sending (PyMySQL ``read_timeout``/``write_timeout``; for psycopg a
        watchdog closes the connection), so a server that stops answering
        cannot hang an operation.
    lock : float, default 30
        Waiting for a lock held by another session (PostgreSQL ``lock_timeout``,
        MariaDB ``innodb_lock_wait_timeout`` and ``lock_wait_timeout``, SQLite's
        busy timeout, the table-creation lock), and the time within which
        retries on deadlocks may start.
    pool : float, default 30
        Waiting for a free connection of the tracker's pool (SQLAlchemy
        ``pool_timeout``).
    """

    connect: float = 10.0
    statement: float = 60.0
    lock: float = 30.0
    pool: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect", "statement", "lock", "pool"):
            _check_duration(f"{name}_timeout", getattr(self, name), allow_zero=False)

    @property
    def read(self) -> float:
        """Seconds the client waits for an answer before giving up on the server."""
        return self.statement + min(self.statement, 5.0)


# -- column types --------------------------------------------------------------------


def _is_mysql(dialect: Dialect) -> bool:
    return dialect.name in ("mysql", "mariadb")


class _Key(sa.types.TypeDecorator[str]):
    """A key: text compared bytewise; UTF-8 bytes in a ``VARBINARY`` on MariaDB/MySQL."""

    impl = sa.String(_KEY_BYTES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if _is_mysql(dialect):
            return dialect.type_descriptor(mysql.VARBINARY(_KEY_BYTES))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.String(_KEY_BYTES, collation="C"))
        return dialect.type_descriptor(sa.String(_KEY_BYTES))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is not None and _is_mysql(dialect):
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode("utf-8")
        return value  # type: ignore[no-any-return]


class _UTCTime(sa.types.TypeDecorator[datetime]):
    """A point in time, written in UTC and read back timezone-aware (UTC).

    PostgreSQL keeps a ``timestamptz``; SQLite and MariaDB/MySQL, which have no
    zone-aware type, keep the naive UTC time (microseconds included).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if _is_mysql(dialect):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


#: The results document: text (UTF-8). ``LONGTEXT`` on MariaDB/MySQL, whose
#: ``MEDIUMTEXT`` stops one byte short of the 16 MiB document limit.
_DOCUMENT = sa.Text().with_variant(
    mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


@functools.lru_cache(maxsize=64)
def _define_tables(name: str) -> tuple[sa.Table, sa.Table]:
    """The two tables of ``name`` (built once per process and name: tables are
    only read after this)."""
    return _build_tables(name)


def _build_tables(name: str) -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData()
    results = sa.Table(
        name,
        metadata,
        sa.Column("key", _Key(), primary_key=True),
        sa.Column("document", _DOCUMENT, nullable=False),
        sa.Column("modified", _UTCTime(), nullable=False),
        # Changed by every write: a fresh random value on insert, +1 on update, so
        # that a key deleted and written again never repeats a revision it had.
        sa.Column("revision", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    schema = sa.Table(
        f"{name}_schema",
        metadata,
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        mysql_engine="InnoDB",
    )
    return results, schema


# -- the tracker -----------------------------------------------------------------------


class SQLResultTracker(StoreTracker):
    """A tracker that keeps each key's results in one row of a SQL table.

    Parameters
    ----------
    url : str
        A SQLAlchemy database URL: ``sqlite:///results.db`` (a file, created if
        missing), ``postgresql+psycopg://user:password@host/db`` or
        ``mysql+pymysql://user:password@host/db`` (MariaDB or MySQL). Without a
        ``+driver``, ``postgresql://`` uses psycopg and ``mysql://`` and
        ``mariadb://`` use PyMySQL, the drivers of the ``postgres`` and ``mysql``
        extras.
    table : str, default "results"
        The table holding the results; ``<table>_schema`` is created beside it.
        Both are created on first write. Several trackers can share one database
        with different tables.
    snapshot_cache : str or os.PathLike, optional
        Accepted for every tracker alike (``open_tracker(url, snapshot_cache=...)``,
        the CLI's ``--cache``) and ignored: a scan of a table is one query per
        batch already, which a local cache would not shorten.
    connect_timeout, statement_timeout, lock_timeout, pool_timeout : float
        Seconds (default 10, 60, 30 and 30): see :class:`Timeouts`. An operation
        that runs out of one raises :class:`~resulttracker.errors.StoreError`
        naming the store and the timeout to raise.
    **engine_options
        Passed to :func:`sqlalchemy.create_engine` (``pool_size``,
        ``connect_args``, ``echo``...).

    Raises
    ------
    ImportError
        SQLAlchemy or the database driver is not installed; the message names the
        extra to install.
    ValueError
        The URL is not one of the supported databases, or ``table`` is not a
        plain identifier.
    StoreError
        (on first use) The database cannot be reached, or the table was written
        by another version of resulttracker or by something else.

    Examples
    --------
    >>> tracker = SQLResultTracker("sqlite:///:memory:")
    >>> tracker["exp1/trial7"] = {"loss": 0.12}
    >>> tracker["exp1/trial7"]
    {'loss': 0.12}
    """

    def __init__(
        self,
        url: str,
        /,
        *,
        table: str = "results",
        snapshot_cache: str | os.PathLike[str] | None = None,
        connect_timeout: float = Timeouts.connect,
        statement_timeout: float = Timeouts.statement,
        lock_timeout: float = Timeouts.lock,
        pool_timeout: float = Timeouts.pool,
        **engine_options: Any,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError(f"url must be a non-empty database URL, got {type(url).__name__}")
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"table must be a plain SQL identifier (letters, digits, '_'; at most 56 "
                f"characters, not starting with a digit), got {table!r}"
            )
        self._timeouts = Timeouts(connect_timeout, statement_timeout, lock_timeout, pool_timeout)
        self._url = url
        self._shown_url = redact_url(url)
        self._secrets = _Secrets(url)
        self._table_name = table
        self._engine, self._in_memory = _create_engine(
            url, self._shown_url, self._secrets, self._timeouts, engine_options
        )
        self._dialect = self._engine.dialect.name
        # psycopg has no client-side read timeout: the watchdog stands in for it.
        self._watched = self._engine.dialect.driver == "psycopg"
        # One in-memory SQLite database is one connection, used by one thread at
        # a time; otherwise as many as SQLAlchemy's pool would allow (a negative
        # max_overflow: no limit).
        overflow = int(engine_options.get("max_overflow", 10))
        capacity = (
            1
            if self._in_memory
            else int(engine_options.get("pool_size", 5)) + (overflow if overflow >= 0 else 2**31)
        )
        self._pool = _Pool(self._engine, capacity, self._timeouts.pool, detach=not self._in_memory)
        database = self._engine.url.database
        self._sqlite_file: str | None = (
            database
            if self._dialect == "sqlite"
            and database
            and not self._in_memory
            and not database.startswith("file:")
            else None
        )
        self._results, self._schema = _define_tables(table)
        # _ready: reads may run; _writable: the table is in this layout version
        # (False while a version-1 table is read as it is, before its upgrade).
        self._ready = False
        self._writable = False
        self._ready_lock = threading.Lock()
        self._generation = _forks[0]
        # The document's bytes as stored, straight into the codec: SQLite hands
        # back TEXT that is not UTF-8 as a decoding error (the codec says what is
        # wrong with it), and PyMySQL need not decode what the codec decodes.
        self._document: sa.ColumnElement[Any] = (
            sa.cast(self._results.c.document, sa.LargeBinary).label("document")
            if self._dialect != "postgresql"
            else self._results.c.document
        )
        self._sql: _Statements
        super().__init__(_SQLStore(self), snapshot_cache=snapshot_cache)

    @property
    def timeouts(self) -> Timeouts:
        """The bounds on every wait (see :class:`Timeouts`)."""
        return self._timeouts

    @property
    def url(self) -> str:
        """The database URL given at construction, password included: never show
        it (``repr(tracker)`` shows it without the password)."""
        return self._url

    @property
    def table(self) -> str:
        """The name of the results table."""
        return self._table_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown_url!r}, table={self._table_name!r})"

    def close(self) -> None:
        """Close the pooled connections; the tracker reconnects if used again."""
        self._pool.close()
        self._engine.dispose()

    # -- the storage primitives ------------------------------------------------------

    def _location(self, key: str) -> str:
        return f"{self._shown_url}#{self._table_name}/{key}"

    # Faster than StoreTracker.get: no adapter hop, and the location of the key
    # is built only if the document is corrupt.
    def get(self, key: KeyType) -> Results:
        name = normalize_key(key)
        document = self._read_stored(name)
        if document is None:
            return {}
        try:
            return codec.decode(document, key=name, location="")
        except CorruptResultError as error:
            raise CorruptResultError(name, self._location(name), error.reason) from None

    # The hot paths: one precompiled statement (_Statements) through a pooled
    # DB-API connection (_execute), in autocommit: one round trip each.

    def _read(self, key: str) -> bytes | None:
        document = self._read_stored(key)
        return None if document is None else self._sql.document(document)

    def _read_stored(self, key: str) -> bytes | str | None:
        """The document as the driver hands it back: bytes, or text (psycopg),
        which the codec reads as its UTF-8 bytes without the copy."""
        if not self._ready and not self._prepare(create=False):
            return None
        statements = self._sql
        row = self._execute(
            "reading key", key, _fetch_one, statements.read_sql, statements.read_parameters(key)
        )
        return None if row is None else row[0]

    # Faster than the default: one query per chunk of keys instead of one per key.
    def _read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        if not self._ready and not self._prepare(create=False):
            return [(key, None) for key in keys]
        found: dict[str, bytes] = {}
        key_of, document_of = self._sql.key, self._sql.document
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            sql, parameters = self._sql.read_many(chunk)
            rows = self._execute(f"reading {len(chunk)} keys", None, _fetch_all, sql, parameters)
            found.update((key_of(key), document_of(document)) for key, document in rows)
        return [(key, found.get(key)) for key in keys]

    def _write(self, key: str, document: bytes) -> None:
        if not self._writable:
            self._prepare(create=True)
        sql, parameters = self._sql.write(key, document.decode("utf-8"))
        self._execute("writing key", key, _run_statement, sql, parameters)

    def _delete(self, key: str) -> bool:
        if not self._ready and not self._prepare(create=False):
            return False
        sql, parameters = self._sql.delete(key)
        return self._execute("deleting key", key, _run_statement, sql, parameters) > 0

    def _list_keys(self, prefix: str) -> Iterable[str]:
        if not self._ready and not self._prepare(create=False):
            return []
        sql, parameters = self._sql.list_keys(prefix)
        key_of = self._sql.key
        rows = self._execute("listing keys", None, _fetch_all, sql, parameters)
        return [key_of(key) for (key,) in rows]

    def _count(self, prefix: str) -> int:
        if not self._ready and not self._prepare(create=False):
            return 0
        sql, parameters = self._sql.count(prefix)
        return int(self._execute("counting keys", None, _fetch_one, sql, parameters)[0])

    # Faster than the default: documents and times come with the keys, in batches
    # of at most _SCAN_BATCH_ROWS rows and _SCAN_BATCH_BYTES bytes fetched by key range
    # ("keyset pagination").
    def _scan_documents(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        for rows in self._scan_batches(prefix):
            statements = self._sql
            key_of, document_of, time_of = statements.key, statements.document, statements.modified
            for key, document, modified in rows:
                yield key_of(key), document_of(document), time_of(modified)

    # Faster than StoreTracker._scan: rows go from the driver to the codec and
    # into Records with no adapter, generator or conversion in between (the keys
    # come from the store, where only valid keys are written: they are not
    # validated again).
    def _scan(self, prefix: str) -> Iterator[Record | CorruptResultError]:
        decode = codec.decode
        batches = self._scan_batches(prefix)
        for rows in batches:
            statements = self._sql
            key_of, time_of = statements.key, statements.modified
            same_key = key_of is _identity
            for key, document, modified in rows:
                if not same_key:
                    key = key_of(key)
                try:
                    results = decode(document, key=key, location="")
                except CorruptResultError as error:
                    # The location is built only for a corrupt document.
                    yield CorruptResultError(key, self._location(key), error.reason)
                else:
                    yield Record(key, results, time_of(modified))

    def _scan_batches(self, prefix: str) -> Iterator[list[Any]]:
        """The rows ``(key, document, modified)`` under ``prefix`` in batches, as
        the driver hands them back (see :class:`_Statements` for their conversions)."""
        if not self._ready and not self._prepare(create=False):
            return
        statements = self._sql
        read = functools.partial(_read_batch, stream=statements.streaming)
        if prefix:
            # The key equal to the prefix sorts before every key under "prefix/".
            sql, parameters = statements.scan_exact(prefix)
            yield self._execute("scanning keys", None, read, sql, parameters)[0]
            after, upper = prefix + "/", prefix + "0"
        else:
            after, upper = "", None
        # Each batch is a short, independent query over an index range, so no
        # connection or transaction stays open between batches while the caller
        # works on the records (a long-lived server-side cursor would hold back
        # SQLite checkpoints and PostgreSQL vacuum, and MariaDB drops a streaming
        # connection whose reader pauses longer than net_write_timeout). A batch
        # stops early at _SCAN_BATCH_BYTES (see _read_batch); the next one asks
        # for as many rows as the documents seen so far say fit.
        limit = _SCAN_BATCH_ROWS if statements.streams else _FIRST_SERVER_BATCH
        while True:
            sql, parameters = statements.scan(after, upper, limit)
            rows, size, complete = self._execute("scanning keys", None, read, sql, parameters)
            yield rows
            if complete and len(rows) < limit:
                return
            limit = max(1, min(_SCAN_BATCH_ROWS, _SCAN_BATCH_BYTES * len(rows) // max(size, 1)))
            after = statements.key(rows[-1][0])

    # -- version tags (the change feed): the revision column, read only here ---------

    def _list_versions(self, prefix: str) -> list[Listed]:
        if not self._ready and not self._prepare(create=False):
            return []
        statements = self._sql
        sql, parameters = statements.list_versions(prefix)
        rows = self._execute("listing keys with versions", None, _fetch_all, sql, parameters)
        key_of, version_of = statements.key, statements.version
        listed = []
        for key, revision, modified in rows:
            version, when = version_of(revision, modified)
            listed.append(Listed(key_of(key), version, when))
        return listed

    def _read_versioned(self, key: str) -> Versioned:
        if not self._ready and not self._prepare(create=False):
            return _NOT_FOUND
        statements = self._sql
        sql, parameters = statements.read_versioned(key)
        row = self._execute("reading key", key, _fetch_one, sql, parameters)
        if row is None:
            return _NOT_FOUND
        document, revision, modified = row
        version, when = statements.version(revision, modified)
        return Versioned(statements.document(document), version, when)

    def _read_many_versioned(self, keys: Sequence[str]) -> list[tuple[str, Versioned]]:
        if not self._ready and not self._prepare(create=False):
            return [(key, _NOT_FOUND) for key in keys]
        statements = self._sql
        found: dict[str, Versioned] = {}
        key_of, document_of, version_of = statements.key, statements.document, statements.version
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            sql, parameters = statements.read_many(chunk, versioned=True)
            rows = self._execute(f"reading {len(chunk)} keys", None, _fetch_all, sql, parameters)
            for key, document, revision, modified in rows:
                version, when = version_of(revision, modified)
                found[key_of(key)] = Versioned(document_of(document), version, when)
        return [(key, found.get(key, _NOT_FOUND)) for key in keys]

    # -- helpers ---------------------------------------------------------------------

    def _build_upsert(self) -> Any:
        table = self._results
        # "+ 1" written into the statement: no parameter to bind on every write.
        bumped = table.c.revision + sa.literal_column("1", sa.BigInteger())
        if self._dialect in ("postgresql", "sqlite"):
            # The two dialects spell the upsert the same way.
            dialect = postgresql if self._dialect == "postgresql" else sqlite
            insert = dialect.insert(table)
            return insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "document": insert.excluded.document,
                    "modified": insert.excluded.modified,
                    "revision": bumped,
                },
            )
        my_insert = mysql.insert(table)
        return my_insert.on_duplicate_key_update(
            document=my_insert.inserted.document,
            modified=my_insert.inserted.modified,
            revision=bumped,
        )

    def _prepare(self, *, create: bool) -> bool:
        """Make sure the tables exist in the expected version; return whether they do.

        With ``create=False`` (reads) missing tables are not created and ``False``
        is returned, and a version-1 table is read as it is (its revision reads
        as 0), so that reading never needs write access to the database. With
        ``create=True`` (writes) a version-1 table is upgraded.
        """
        if self._writable or (self._ready and not create):
            return True
        with self._ready_lock:
            if self._writable or (self._ready and not create):
                return True
            if self._sqlite_file is not None and not os.path.exists(self._sqlite_file):
                # Connecting would create an empty database file: a read must not,
                # and a first write creates the file's folder too, as a folder store does.
                if not create:
                    return False
                os.makedirs(os.path.dirname(os.path.abspath(self._sqlite_file)), exist_ok=True)
            state = self._run("checking the table layout", self._check_schema)
            if state == "missing":
                if not create:
                    return False
                self._run("creating the tables", self._make_schema)
            elif state == "upgrade" and create:
                self._run("upgrading the table layout", self._make_schema)
            current = state != "upgrade" or create
            # Compiled now that a connection has told SQLAlchemy the server's
            # version (MariaDB and MySQL 8 spell the upsert differently).
            self._sql = _Statements(self, revision=current)
            self._ready = True
            self._writable = current
            return True

    def _check_schema(self, connection: Connection, *, quick: bool = True) -> str:
        """Return ``"ready"``, ``"missing"`` or ``"upgrade"`` (a version-1 table,
        read as it is, upgraded by :meth:`_make_schema`), or raise if the table is
        not ours or of another version.

        Each check is its own statement and may see a creator's progress between
        two of them (on MariaDB/MySQL every DDL statement commits on its own).
        The creator makes the schema table, then the results table, then records
        the version; reading in the order results table, schema table, version
        makes every interleaving give the right answer.
        """
        if quick:
            state = self._quick_state(connection)
            if state is not None:
                return state
        inspector = sa.inspect(connection)
        has_results = inspector.has_table(self._results.name)
        has_schema = inspector.has_table(self._schema.name)
        if not has_schema:
            if has_results:  # the schema table would have come first
                raise StoreError(
                    f"table {self._table_name!r} in {self._shown_url} was not created by "
                    f"resulttracker (it has no {self._schema.name!r} table recording its "
                    "layout version); choose another table name with table=..."
                )
            return "missing"
        # A table of that name that is not ours (a user's "results_schema") is
        # refused before anything reads from it, writes to it or creates beside it.
        self._check_columns(inspector, self._schema.name, ["version"])
        version = connection.execute(sa.select(sa.func.max(self._schema.c.version))).scalar()
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise self._not_ours(self._schema.name, f"it holds the version {version!r}")
        if version is None:
            # A creator is at work (or died before recording the version):
            # _make_schema waits for its lock and completes what is missing.
            return "missing"
        # A version-1 table whose upgrade added the column but died before
        # recording the version (MariaDB/MySQL: the ALTER commits on its own).
        layouts = [_COLUMNS_V1, _COLUMNS] if version in _UPGRADABLE_VERSIONS else [_COLUMNS]
        if version != SCHEMA_VERSION and version not in _UPGRADABLE_VERSIONS:
            age = "an older" if version < SCHEMA_VERSION else "a newer"
            raise StoreError(
                f"table {self._table_name!r} in {self._shown_url} has layout version "
                f"{version}, written by {age} resulttracker; this version reads and writes "
                f"version {SCHEMA_VERSION} (and upgrades version 1 on its first write). Use a "
                "resulttracker that matches, copy the results into a new table, or choose "
                "another table name with table=..."
            )
        # The results table may have been created after it was looked for.
        if not has_results and not sa.inspect(connection).has_table(self._results.name):
            raise StoreError(
                f"table {self._table_name!r} in {self._shown_url} is missing although its "
                f"{self._schema.name!r} table exists; drop {self._schema.name!r} or "
                "choose another table name with table=..."
            )
        self._check_columns(sa.inspect(connection), self._results.name, *layouts)
        return "ready" if version == SCHEMA_VERSION else "upgrade"

    def _quick_state(self, connection: Connection) -> str | None:
        """``"ready"`` if both tables are there, ours and in this layout version,
        ``"upgrade"`` if they are in version 1, found with one plain query (a fresh
        reader's only cost); ``None`` when anything differs (missing tables
        included), for the full check to say what."""
        quote = self._engine.dialect.identifier_preparer.quote
        # The newest version row beside the results table's columns (and none of
        # its rows); an upgraded table keeps the row of version 1 too.
        query = (
            f"SELECT * FROM {quote(self._schema.name)} LEFT JOIN "
            f"(SELECT * FROM {quote(self._results.name)} WHERE 1 = 0) AS empty_results "
            "ON 1 = 0 ORDER BY 1 DESC"
        )
        try:
            result = connection.exec_driver_sql(query)
            names = [column[0].lower() for column in result.cursor.description]
            rows = [tuple(row) for row in result.fetchmany(1)]
            result.close()
        except sa_exc.DBAPIError as error:
            if error.connection_invalidated or self._timeout_hint(error, None):
                raise  # not a question of layout: the full check would only wait again
            return None
        if names[:1] != ["version"] or len(rows) != 1:
            return None
        version, *results = rows[0]
        if type(version) is not int or any(value is not None for value in results):
            return None  # (a bool is not a version)
        columns = sorted(names[1:])
        if version == SCHEMA_VERSION and columns == _COLUMNS:
            return "ready"
        if version in _UPGRADABLE_VERSIONS and columns == _COLUMNS_V1:
            return "upgrade"
        return None

    def _check_columns(self, inspector: Any, table: str, *layouts: list[str]) -> None:
        columns = [column["name"] for column in inspector.get_columns(table)]
        found = sorted(name.lower() for name in columns)
        if not any(found == sorted(expected) for expected in layouts):
            shown = ", ".join(repr(name) for name in columns)
            raise self._not_ours(table, f"its columns are {shown}")

    def _not_ours(self, table: str, evidence: str) -> StoreError:
        return StoreError(
            f"table {table!r} in {self._shown_url} was not created by resulttracker "
            f"({evidence}); resulttracker keeps table {self._table_name!r} and its layout "
            f"version in {self._schema.name!r} and never alters a table it did not make: "
            "choose another table name with table=..."
        )

    def _make_schema(self, connection: Connection) -> None:
        """Create both tables, or upgrade a version-1 table to version 2 (add the
        revision column), and record the version, under a database-wide lock so
        that many processes starting at once do it exactly once.

        Each step of an upgrade is checked before it is made: on MariaDB/MySQL the
        ``ALTER`` commits on its own, and an upgrader that died after it leaves
        the column without the version row, which the next one completes.
        """
        with self._creation_lock(connection):
            # Without the quick check: a failed query would abort the transaction.
            state = self._check_schema(connection, quick=False)
            if state == "ready":
                return
            if state == "upgrade":
                self._add_revision(connection)
            else:
                # This order is the one _check_schema relies on.
                for table in (self._schema, self._results):
                    connection.execute(sa.schema.CreateTable(table, if_not_exists=True))
            connection.execute(self._record_version())

    def _add_revision(self, connection: Connection) -> None:
        columns = sa.inspect(connection).get_columns(self._results.name)
        if any(column["name"].lower() == "revision" for column in columns):
            return
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        kind = self._results.c.revision.type.compile(dialect=dialect)
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(self._results.name)} ADD COLUMN {quote('revision')} "
            f"{kind} NOT NULL DEFAULT 0"
        )

    def _record_version(self) -> Any:
        """An insert of the version row that does nothing if the row is there.

        On MariaDB/MySQL the creation lock is a session lock, released before the
        transaction holding this row commits; a second creator may then insert it
        too, and must not fail.
        """
        values = {"version": SCHEMA_VERSION}
        if self._dialect == "postgresql":
            return postgresql.insert(self._schema).values(values).on_conflict_do_nothing()
        if self._dialect == "sqlite":
            return sqlite.insert(self._schema).values(values).on_conflict_do_nothing()
        return sa.insert(self._schema).values(values).prefix_with("IGNORE")

    @contextlib.contextmanager
    def _creation_lock(self, connection: Connection) -> Iterator[None]:
        name = f"resulttracker:{self._table_name}"
        if self._dialect == "sqlite":
            # The connection is in driver autocommit: this is the transaction, and
            # IMMEDIATE takes the write lock at once (waiting out the busy timeout).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                with contextlib.suppress(Exception):
                    connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        elif self._dialect == "postgresql":
            # Held until the transaction ends; DDL is transactional in PostgreSQL.
            # The connection is in autocommit: this is the one explicit transaction.
            digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
            lock_id = int.from_bytes(digest, "big", signed=True)
            connection.exec_driver_sql("BEGIN")
            try:
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
                yield
            except BaseException:
                with contextlib.suppress(Exception):
                    connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        else:
            # DDL commits implicitly in MariaDB/MySQL: a session lock spans it.
            lock_name = "rt:" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
            acquired = connection.execute(
                sa.select(sa.func.get_lock(lock_name, max(1, math.ceil(self._timeouts.lock))))
            ).scalar()
            if acquired != 1:
                raise StoreError(
                    f"timed out waiting for another process to create table "
                    f"{self._table_name!r} in {self._shown_url}; no lock within "
                    f"lock_timeout={self._timeouts.lock:g} s"
                )
            try:
                yield
            finally:
                connection.execute(sa.select(sa.func.release_lock(lock_name)))

    def _run(self, operation: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, retrying on lock contention; the one place
        where SQLAlchemy and driver errors become :class:`StoreError`."""
        if self._generation != _forks[0]:
            self._after_fork()
        started = time.monotonic()
        attempt = 0
        while True:
            deadline = _Deadline(self._timeouts.read) if self._watched else None
            try:
                return self._attempt(work, deadline)
            except sa_exc.DBAPIError as error:
                attempt += 1
                if (
                    attempt < _MAX_ATTEMPTS
                    and time.monotonic() - started < self._timeouts.lock
                    and not (deadline is not None and deadline.fired)
                    and self._is_transient(error, attempt)
                ):
                    time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
                    continue
                failure: BaseException = error
            except ResultTrackerError:
                raise  # ours (a table that is not ours, a creation lock not granted)
            except Exception as error:
                # SQLAlchemy's errors, and what a driver raises unwrapped while
                # connecting (PyMySQL's UnicodeEncodeError for a password it cannot
                # encode shows the password in its repr).
                failure = error
            # Raised outside the handler, so that the driver's exception is not
            # attached as __context__ unless _Secrets finds it safe to chain.
            raise self._store_error(operation, failure, deadline)

    def _execute(
        self, operation: str, key: str | None, work: Callable[..., T], sql: str, parameters: Any
    ) -> T:
        """Run ``work(cursor, sql, parameters)`` on a pooled DB-API connection in
        autocommit, retrying on lock contention like :meth:`_run`; driver errors
        become :class:`StoreError`.

        The hot paths come here: no SQLAlchemy ``Connection``, transaction or
        result object between the statement and the driver.
        """
        if self._generation != _forks[0]:
            self._after_fork()
        pool = self._pool
        attempt = 0
        started = 0.0
        while True:
            deadline = None
            connection: _Pooled | None = None
            try:
                connection = pool.take()
                if self._watched:
                    deadline = _Deadline(self._timeouts.read)
                    deadline.socket = connection.socket
                    _WATCHDOG.arm(deadline, attach=False)
                    try:
                        result = work(connection.cursor, sql, parameters)
                    finally:
                        _WATCHDOG.disarm(deadline, attach=False)
                else:
                    result = work(connection.cursor, sql, parameters)
                pool.give(connection)
                return result
            except ResultTrackerError:
                if connection is not None:
                    pool.give(connection)
                raise
            except Exception as error:
                failure: BaseException = error
                disconnected = (deadline is not None and deadline.fired) or (
                    connection is not None and connection.is_disconnect(error)
                )
                if connection is not None:
                    if disconnected:
                        pool.discard(connection)
                    else:
                        pool.give(connection)
            attempt += 1
            if attempt == 1:
                started = time.monotonic()
            if (
                attempt < _MAX_ATTEMPTS
                and time.monotonic() - started < self._timeouts.lock
                and not (deadline is not None and deadline.fired)
                and self._retry(failure, disconnected and connection is not None, attempt)
            ):
                time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
                continue
            named = operation if key is None else f"{operation} {key!r}"
            # Raised outside the handler: see _run.
            raise self._store_error(named, failure, deadline)

    def _after_fork(self) -> None:
        # A forked child must not share the parent's sockets: drop the inherited
        # connections without closing them (the parent still uses them). An
        # in-memory database lives in its one connection: the child keeps its copy.
        if not self._in_memory:
            self._pool.forget()
            self._engine.dispose(close=False)
        # A parent thread may have held it at the fork.
        self._ready_lock = threading.Lock()
        self._generation = _forks[0]

    def _attempt(self, work: Callable[[Connection], T], deadline: _Deadline | None) -> T:
        # The in-memory database's one connection serves one operation at a time.
        slot = self._pool.take() if self._in_memory else None
        try:
            if deadline is not None:
                _WATCHDOG.arm(deadline)
            try:
                with self._engine.connect() as connection:
                    if deadline is not None:
                        deadline.watch(connection.connection.dbapi_connection)
                    with connection.begin():
                        result = work(connection)
                    # Disarmed before the connection goes back to the pool, where
                    # another thread may take it.
                    if deadline is not None:
                        _WATCHDOG.disarm(deadline)
                return result
            finally:
                if deadline is not None:
                    _WATCHDOG.disarm(deadline)
        finally:
            if slot is not None:
                self._pool.give(slot)

    def _is_transient(self, error: sa_exc.DBAPIError, attempt: int) -> bool:
        return self._retry(error.orig, error.connection_invalidated, attempt)

    def _retry(self, error: BaseException | None, disconnected: bool, attempt: int) -> bool:
        """Whether a failed attempt is worth another: lock contention that the
        database reports at once, or a pooled connection the server had closed."""
        original = getattr(error, "orig", error)
        if _mysql_code(original) in _MYSQL_LOST and "timed out" in str(original):
            return False  # the read timeout ran out: the bound is spent
        if disconnected:
            # The server closed an idle pooled connection: one fresh try.
            return attempt == 1
        if self._dialect == "sqlite":
            # The busy timeout has waited already; SQLite also reports "locked"
            # at once where waiting cannot help (a snapshot gone stale), and a
            # new attempt starts from a fresh snapshot.
            text = str(original).lower()
            return isinstance(original, sqlite3.OperationalError) and (
                "locked" in text or "busy" in text
            )
        if self._dialect == "postgresql":
            return getattr(original, "sqlstate", None) in _PG_TRANSIENT
        return _mysql_code(original) in _MYSQL_TRANSIENT

    def _store_error(
        self, operation: str, error: BaseException, deadline: _Deadline | None = None
    ) -> StoreError:
        original = getattr(error, "orig", None) or error
        text = str(original).strip()
        detail = self._secrets.scrub(text.splitlines()[0]) if text else ""
        hint = self._timeout_hint(error, deadline)
        failure = StoreError(
            f"{operation} failed (table {self._table_name!r} in {self._shown_url}): "
            f"{type(original).__name__}: {detail}{hint}"
        )
        failure.__cause__ = self._secrets.safe_cause(error)
        failure.__suppress_context__ = True
        return failure

    def _timeout_hint(self, error: BaseException, deadline: _Deadline | None) -> str:
        """What ran out, and how to change it, when ``error`` is a timeout."""
        bounds = self._timeouts
        original = getattr(error, "orig", None) or error
        lock = f"; no lock within lock_timeout={bounds.lock:g} s (another session holds it)"
        statement = f"; the statement ran longer than statement_timeout={bounds.statement:g} s"
        silent = (
            f"; the server did not answer within {bounds.read:g} s "
            f"(statement_timeout={bounds.statement:g} s plus grace); the connection was closed"
        )
        if deadline is not None and deadline.fired:
            return silent
        if isinstance(error, (_PoolBusyError, sa_exc.TimeoutError)):
            return (
                f"; no free connection in the pool within pool_timeout={bounds.pool:g} s "
                "(raise pool_size or pool_timeout)"
            )
        if self._dialect == "sqlite":
            text = str(original).lower()
            return lock if "locked" in text or "busy" in text else ""
        if self._dialect == "postgresql":
            state = getattr(original, "sqlstate", None)
            if state == _PG_LOCK_TIMEOUT:
                return lock
            if state == _PG_CANCELED:
                return statement
            if type(original).__name__ == "ConnectionTimeout":
                return f"; no connection within connect_timeout={bounds.connect:g} s"
            return ""
        code = _mysql_code(original)
        if code == _MYSQL_LOCK_TIMEOUT:
            return lock
        if code in _MYSQL_STATEMENT_TIMEOUTS:
            return statement
        if code in _MYSQL_LOST and "timed out" in str(original):
            return silent.replace("; the connection was closed", "")
        return ""


#: A versioned read of a key that has no document.
_NOT_FOUND = Versioned(None, None, None)


class _PoolBusyError(Exception):
    """Every connection of the tracker's pool stayed busy too long."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"every connection stayed busy for {seconds:g} s")


# -- module helpers ----------------------------------------------------------------------


def _as_bytes(document: Any) -> bytes:
    return document.encode("utf-8") if isinstance(document, str) else bytes(document)


def _fetch_one(cursor: Any, sql: str, parameters: Any) -> Any:
    cursor.execute(sql, parameters)
    return cursor.fetchone()


def _fetch_all(cursor: Any, sql: str, parameters: Any) -> Any:
    cursor.execute(sql, parameters)
    return cursor.fetchall()


def _run_statement(cursor: Any, sql: str, parameters: Any) -> int:
    """Run one statement; how many rows it changed."""
    cursor.execute(sql, parameters)
    return int(cursor.rowcount)


def _read_batch(
    cursor: Any,
    sql: str,
    parameters: Any,
    *,
    stream: Callable[[Any], contextlib.AbstractContextManager[Any]],
) -> tuple[list[Any], int, bool]:
    """The rows of one scan query up to _SCAN_BATCH_BYTES of documents, as the
    driver hands them back, the documents' size, and whether they are all of
    the query's rows.

    Rows are taken from the cursor a few at a time, as many as the sizes seen so
    far say fit, so that no more than the bound (and one row) is ever held: SQLite
    steps its statement row by row, PyMySQL reads an unbuffered cursor from the
    socket; psycopg's client cursor holds the result of a batch, whose number of
    rows _scan_batches keeps to the bound. (A document read as text is measured
    in characters: at least one byte each.)
    """
    rows: list[Any] = []
    size = 0
    document = operator.itemgetter(1)
    with stream(cursor) as streaming:
        streaming.execute(sql, parameters)
        wanted = 1
        while True:
            chunk = streaming.fetchmany(wanted)
            if not chunk:
                return rows, size, True
            rows += chunk
            size += sum(map(len, map(document, chunk)))
            if size >= _SCAN_BATCH_BYTES:
                return rows, size, False
            left = (_SCAN_BATCH_BYTES - size) * len(rows) // max(size, 1)
            wanted = max(1, min(_SCAN_FETCH_ROWS, left))


def _mysql_code(error: BaseException | None) -> Any:
    return error.args[0] if error is not None and error.args else None


# -- the hot paths' statements and connections ---------------------------------------------


#: Compiled hot-path statements, shared by the trackers of a process (see
#: _Statements._sql).
_COMPILED: dict[tuple[Any, ...], tuple[tuple[str, tuple[str, ...]], dict[str, Any]]] = {}


def _identity(value: Any) -> Any:
    return value


class _Statements:
    """The hot paths' SQL, compiled once per tracker by SQLAlchemy for its
    dialect, with the conversions between Python values and the driver's."""

    def __init__(self, tracker: SQLResultTracker, *, revision: bool) -> None:
        dialect = tracker._engine.dialect
        self._positional = bool(dialect.positional)
        column = tracker._results.c
        table = tracker._results
        is_mysql = _is_mysql(dialect)
        self._dialect = dialect
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._fixed: dict[str, Any] = {}
        self._table = table.name
        # False: a version-1 table read as it is, whose revision reads as 0.
        self._revision = revision
        # Keys are text, but UTF-8 bytes in MariaDB/MySQL's VARBINARY column.
        self._bind_key: Callable[[str], Any] = str.encode if is_mysql else _identity
        self.key: Callable[[Any], str] = bytes.decode if is_mysql else _identity
        self.document: Callable[[Any], bytes] = (
            _as_bytes if dialect.name == "postgresql" else _identity
        )
        time_type = column.modified.type
        self._bind_time = time_type.bind_processor(dialect) or _identity
        self.modified = _time_reader(dialect, time_type.result_processor(dialect, None))
        # MariaDB/MySQL: the time as text, which _time_reader parses faster than
        # PyMySQL's own DATETIME converter.
        modified = sa.cast(column.modified, sa.String) if is_mysql else column.modified
        fields = sa.select(column.key, tracker._document, modified)
        # Only the version statements read the revision.
        stored: Any = column.revision if revision else sa.literal_column("0", sa.BigInteger())
        revised = stored.label("revision")
        versions = sa.select(column.key, revised, modified)
        key: Any = sa.bindparam("key")
        after: Any = sa.bindparam("after")
        upper: Any = sa.bindparam("upper")
        limit: Any = sa.bindparam("limit", type_=sa.Integer())

        def under() -> Any:
            return sa.or_(column.key == key, sa.and_(column.key > after, column.key < upper))

        # Built and compiled on first use: a fresh reader compiles only what it runs.
        self._builders: dict[str, Callable[[], Any]] = {
            "read": lambda: sa.select(tracker._document).where(column.key == key),
            "write": tracker._build_upsert,
            "delete": lambda: sa.delete(table).where(column.key == key),
            "keys": lambda: sa.select(column.key).order_by(column.key),
            "keys_under": lambda: sa.select(column.key).where(under()).order_by(column.key),
            "count": lambda: sa.select(sa.func.count()).select_from(table),
            "count_under": lambda: sa.select(sa.func.count()).select_from(table).where(under()),
            "scan_exact": lambda: fields.where(column.key == key),
            "scan": lambda: fields.where(column.key > after).order_by(column.key).limit(limit),
            "scan_below": lambda: (
                fields.where(column.key > after, column.key < upper)
                .order_by(column.key)
                .limit(limit)
            ),
            # The change feed sorts a listing itself: no ORDER BY.
            "versions": lambda: versions,
            "versions_under": lambda: versions.where(under()),
            "read_versioned": lambda: sa.select(tracker._document, revised, modified).where(
                column.key == key
            ),
        }
        # The hottest statement, ready to run: its text and its parameters' maker.
        self.read_sql = self._sql("read")[0]
        self.read_parameters: Callable[[str], Any]
        if self._positional:
            self.read_parameters = (
                (lambda key: (key.encode(),)) if is_mysql else (lambda key: (key,))
            )
        else:
            self.read_parameters = (
                (lambda key: {"key": key.encode()}) if is_mysql else (lambda key: {"key": key})
            )
        self._many: dict[tuple[bool, int], tuple[str, tuple[str, ...]]] = {}
        self._many_statements = {
            False: sa.select(column.key, tracker._document),
            True: sa.select(column.key, tracker._document, revised, modified),
        }
        self._key_column = column.key
        # Unbuffered on PyMySQL: rows are read from the socket as the scan takes them.
        self._stream_class: Any = None
        if is_mysql and dialect.driver == "pymysql":
            self._stream_class = importlib.import_module("pymysql.cursors").SSCursor
        # A client cursor that holds a whole result (psycopg's, or another MySQL
        # driver's): start small, until the documents' size is known.
        self.streams = dialect.name == "sqlite" or self._stream_class is not None

    def _compile(self, statement: Any) -> tuple[str, tuple[str, ...]]:
        compiled = statement.compile(dialect=self._dialect)
        # Parameters SQLAlchemy adds itself (SQLite's "OFFSET ?" after a LIMIT).
        self._fixed.update((k, v) for k, v in compiled.params.items() if v is not None)
        return str(compiled), tuple(compiled.positiontup or ())

    def _sql(self, name: str) -> tuple[str, tuple[str, ...]]:
        try:
            return self._compiled[name]
        except KeyError:
            pass
        # Compiling takes about a millisecond: once per process for each table,
        # statement and server flavour, not once per tracker (a fresh reader).
        dialect = self._dialect
        flavour = (
            type(dialect),
            dialect.paramstyle,
            dialect.server_version_info,
            getattr(dialect, "is_mariadb", None),
            dialect.label_length,
            self._table,
            self._revision,
            name,
        )
        cached = _COMPILED.get(flavour)
        if cached is None:
            cached = self._compile(self._builders[name]()), dict(self._fixed)
            if len(_COMPILED) > 512:
                _COMPILED.clear()
            _COMPILED[flavour] = cached
        self._compiled[name], fixed = cached
        self._fixed.update(fixed)
        return self._compiled[name]

    def _bind(self, name: str, values: dict[str, Any]) -> tuple[str, Any]:
        sql, order = self._sql(name)
        if self._fixed:
            values = {**self._fixed, **values}
        if self._positional:
            return sql, tuple(values[field] for field in order)
        return sql, values

    def read_many(self, keys: Sequence[str], *, versioned: bool = False) -> tuple[str, Any]:
        """The query of ``keys``' documents (with ``versioned``, their revisions
        and times too)."""
        shape = (versioned, len(keys))
        if shape not in self._many:
            names: list[Any] = [sa.bindparam(f"k{number}") for number in range(len(keys))]
            self._many[shape] = self._compile(
                self._many_statements[versioned].where(self._key_column.in_(names))
            )
        sql, order = self._many[shape]
        bound = [self._bind_key(key) for key in keys]
        if self._positional:
            return sql, tuple(bound[int(name[1:])] for name in order)
        return sql, {f"k{number}": key for number, key in enumerate(bound)}

    def write(self, key: str, document: str) -> tuple[str, Any]:
        modified = self._bind_time(datetime.now(timezone.utc))
        values = {
            "key": self._bind_key(key),
            "document": document,
            "modified": modified,
            # An insert's revision (an update adds one to the row's instead).
            "revision": random.getrandbits(62),
        }
        return self._bind("write", values)

    def delete(self, key: str) -> tuple[str, Any]:
        return self._bind("delete", {"key": self._bind_key(key)})

    def _under(self, prefix: str) -> dict[str, Any]:
        bind = self._bind_key
        return {"key": bind(prefix), "after": bind(prefix + "/"), "upper": bind(prefix + "0")}

    def list_keys(self, prefix: str) -> tuple[str, Any]:
        if not prefix:
            return self._bind("keys", {})
        return self._bind("keys_under", self._under(prefix))

    def count(self, prefix: str) -> tuple[str, Any]:
        if not prefix:
            return self._bind("count", {})
        return self._bind("count_under", self._under(prefix))

    def list_versions(self, prefix: str) -> tuple[str, Any]:
        if not prefix:
            return self._bind("versions", {})
        return self._bind("versions_under", self._under(prefix))

    def read_versioned(self, key: str) -> tuple[str, Any]:
        return self._bind("read_versioned", {"key": self._bind_key(key)})

    def version(self, revision: Any, modified: Any) -> tuple[str, datetime | None]:
        """The version tag of a row's revision and time, and the time."""
        when = self.modified(modified)
        # The time too: a process of an older resulttracker still writing to an
        # upgraded table changes the document and the time but not the revision.
        return f"r:{int(revision):x}:{when.isoformat() if when else ''}", when

    def scan_exact(self, key: str) -> tuple[str, Any]:
        return self._bind("scan_exact", {"key": self._bind_key(key)})

    def scan(self, after: str, upper: str | None, limit: int) -> tuple[str, Any]:
        values = {"after": self._bind_key(after), "limit": limit}
        if upper is None:
            return self._bind("scan", values)
        return self._bind("scan_below", {**values, "upper": self._bind_key(upper)})

    def streaming(self, cursor: Any) -> contextlib.AbstractContextManager[Any]:
        """A cursor that reads a result as it arrives: the cursor itself on
        SQLite (its statements step row by row) and psycopg (a scan asks for few
        rows at first), an unbuffered one on PyMySQL."""
        if self._stream_class is None:
            return contextlib.nullcontext(cursor)
        return contextlib.closing(cursor.connection.cursor(self._stream_class))


def _time_reader(dialect: Dialect, processor: Any) -> Callable[[Any], datetime | None]:
    """The modification time of a row as an aware UTC ``datetime``."""
    utc = timezone.utc
    if dialect.name == "postgresql":
        # The session's TimeZone is UTC (_create_engine): psycopg's loader gives
        # timezone.utc already, unless the user's connect options said otherwise.
        return lambda value: (
            value if value is None or value.tzinfo is utc else value.astimezone(utc)
        )
    parse = datetime.fromisoformat

    def from_text(value: Any) -> datetime | None:
        # SQLite keeps (and MariaDB is asked for, CAST AS CHAR) the UTC time as
        # "YYYY-MM-DD HH:MM:SS.ffffff", which fromisoformat reads with its zone
        # six times faster than a parse and replace(tzinfo=...) would; anything
        # else goes through SQLAlchemy's own parser.
        if isinstance(value, str):
            try:
                return parse(value + "+00:00")
            except ValueError:
                pass
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=utc)
        parsed = processor(value) if processor is not None else None
        if not isinstance(parsed, datetime):
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=utc)

    return from_text


class _Pooled:
    """One DB-API connection of a tracker's :class:`_Pool`, with its cursor."""

    __slots__ = ("connection", "cursor", "dialect", "fairy", "immutable", "socket")

    def __init__(self, fairy: Any, dialect: Dialect) -> None:
        self.fairy = fairy
        self.connection = fairy.dbapi_connection
        self.cursor = self.connection.cursor()
        self.dialect = dialect
        self.immutable: str | None = fairy.info.get("rt_immutable")
        self.socket: int | None = None
        with contextlib.suppress(Exception):
            self.socket = self.connection.fileno()

    def is_disconnect(self, error: BaseException) -> bool:
        with contextlib.suppress(Exception):
            if isinstance(error, self.dialect.loaded_dbapi.Error):
                return bool(self.dialect.is_disconnect(error, self.connection, self.cursor))
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.fairy.close()


class _Pool:
    """The hot paths' connections: DB-API connections made by the engine (so its
    connect-time set-up runs: timeouts, WAL, session settings), then detached
    from SQLAlchemy's pool and handed out here with no more work than a list
    ``pop`` and ``append``.

    At most ``capacity`` connections exist (the engine's ``pool_size +
    max_overflow``); a caller finding none free waits up to ``timeout`` seconds.
    A connection is used by one thread at a time; connections stay open, idle,
    until :meth:`close`.
    """

    def __init__(self, engine: Engine, capacity: int, timeout: float, *, detach: bool) -> None:
        self._engine = engine
        self._capacity = max(1, capacity)
        self._timeout = timeout
        self._detach = detach
        self._idle: list[_Pooled] = []
        self._made = 0
        self._waiting = 0
        self._changed = threading.Condition(threading.Lock())

    def take(self) -> _Pooled:
        try:
            pooled = self._idle.pop()  # atomic: no lock on the common path
        except IndexError:
            return self._take_or_make()
        if pooled.immutable is not None and os.path.exists(pooled.immutable + "-wal"):
            # A writer has opened the file since this reader opened it immutable:
            # it would miss the writer's changes (see _sqlite_connect).
            self.discard(pooled)
            return self.take()
        return pooled

    def _take_or_make(self) -> _Pooled:
        deadline = time.monotonic() + self._timeout
        with self._changed:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._made < self._capacity:
                    self._made += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _PoolBusyError(self._timeout)
                self._waiting += 1
                try:
                    # Bounded slices: give() appends without the lock.
                    self._changed.wait(min(remaining, 0.05))
                finally:
                    self._waiting -= 1
        try:
            fairy = self._engine.raw_connection()
            if self._detach:
                fairy.detach()
            return _Pooled(fairy, self._engine.dialect)
        except BaseException:
            self._forget_one()
            raise

    def give(self, pooled: _Pooled) -> None:
        self._idle.append(pooled)
        if self._waiting:
            with self._changed:
                self._changed.notify()

    def discard(self, pooled: _Pooled) -> None:
        pooled.close()
        self._forget_one()

    def _forget_one(self) -> None:
        with self._changed:
            self._made -= 1
            self._changed.notify()

    def forget(self) -> None:
        """Drop every connection without closing it (after a fork: the parent's).

        Called in a forked child, where the lock may have been held by a parent
        thread at the fork: it is replaced, not taken."""
        self._changed = threading.Condition(threading.Lock())
        self._idle = []
        self._made = 0
        self._waiting = 0

    def close(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
            self._made -= len(idle)
        for pooled in idle:
            pooled.close()


# -- credentials ---------------------------------------------------------------------------


class _Secrets:
    """The password of a database URL in every form a message may show it in."""

    def __init__(self, url: str) -> None:
        values: list[str] = []
        parsed = None
        with contextlib.suppress(Exception):
            parsed = make_url(url)
        _, separator, rest = url.partition("://")
        userinfo = rest.rpartition("@")[0] if separator else ""
        if parsed is None or parsed.password is not None or "@" in (parsed.host or ""):
            # As written (its percent-encoding may differ from quote()'s), up to
            # the last "@" (a raw "@" in the password moves SQLAlchemy's split).
            values.append(userinfo.partition(":")[2])
        if parsed is None and not userinfo:
            # "user:password/host/db" (a forgotten "@"): the password sits where
            # the port would.
            values.append(rest.partition("/")[0].partition(":")[2])
        if parsed is not None:
            values.append(parsed.password or "")
            for name, value in parsed.query.items():
                if _SECRET_PARAMETER.search(name):
                    values += [value] if isinstance(value, str) else list(value)
        forms: set[str] = set()
        for value in filter(None, values):
            forms |= {
                value,
                urllib.parse.unquote(value),
                urllib.parse.quote(value, safe=""),
                urllib.parse.quote_plus(value),
                repr(value)[1:-1],
                json.dumps(value)[1:-1],
                value.replace("\\", "\\\\").replace("'", "\\'"),  # libpq conninfo quoting
            }
        self._forms = sorted(filter(None, forms), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text

    def found_in(self, text: str) -> bool:
        return any(form in text for form in self._forms)

    def safe_cause(self, error: BaseException) -> BaseException | None:
        """``error`` to chain as the cause if no text of its chain shows the
        password; otherwise a stand-in carrying the same text, scrubbed."""
        if not self._forms:
            return error
        shown = "".join(traceback.format_exception(error))
        chain = [*_chain(error)]
        if not self.found_in(shown) and not any(self.found_in(repr(item)) for item in chain):
            return error
        return _RedactedError(self.scrub("".join(traceback.format_exception_only(error)).strip()))


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [error]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [link for link in (item.__cause__, item.__context__) if link is not None]
        original = getattr(item, "orig", None)
        if isinstance(original, BaseException):
            pending.append(original)


class _RedactedError(Exception):
    """Stands in for a driver exception whose text showed the password."""


# -- bounded waits ---------------------------------------------------------------------------

#: How many times this process's ancestry has forked since import: a tracker or
#: the watchdog that saw another number must drop what it inherited. (Cheaper on
#: every operation than a getpid system call.)
_forks = [0]


def _after_fork_in_child() -> None:
    _forks[0] += 1
    # The watchdog's thread is gone, and its lock may have been held by it.
    _WATCHDOG.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Deadline:
    """The moment a statement's answer is overdue, and the socket to close then."""

    __slots__ = ("at", "fired", "socket")

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.socket: int | None = None
        self.fired = False

    def watch(self, dbapi_connection: Any) -> None:
        with contextlib.suppress(Exception):
            self.socket = dbapi_connection.fileno()


class _Watchdog:
    """One daemon thread that shuts down the socket of any connection whose
    statement is overdue, so that a driver without a read timeout (psycopg)
    returns with an error instead of waiting forever for a frozen server.

    Arming and disarming cost a lock and a set operation; the thread wakes every
    0.2 s. A socket is shut down only while its operation is armed, and an
    operation disarms before its connection returns to the pool.
    """

    _INTERVAL = 0.2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: set[_Deadline] = set()
        self._local = threading.local()
        self._generation = -1

    def reset(self) -> None:
        """Forget everything (in a forked child: no thread watches there yet)."""
        self._lock = threading.Lock()
        self._armed = set()
        self._local = threading.local()
        self._generation = -1

    def arm(self, deadline: _Deadline, *, attach: bool = True) -> None:
        """Watch ``deadline``; with ``attach``, a connection this thread opens
        meanwhile is watched from its first query (see _on_postgresql_connect)."""
        with self._lock:
            if self._generation != _forks[0]:  # first use, or a child without the thread
                self._generation = _forks[0]
                watcher = threading.Thread(target=self._loop, name="rt-sql-watchdog", daemon=True)
                watcher.start()
            self._armed.add(deadline)
        if attach:
            self._local.deadline = deadline

    def disarm(self, deadline: _Deadline, *, attach: bool = True) -> None:
        if attach:
            self._local.deadline = None
        with self._lock:
            self._armed.discard(deadline)

    def current(self) -> _Deadline | None:
        """The deadline armed by this thread (a new connection attaches to it)."""
        deadline: _Deadline | None = getattr(self._local, "deadline", None)
        return deadline

    def _loop(self) -> None:
        generation = _forks[0]
        while _forks[0] == generation:
            time.sleep(self._INTERVAL)
            now = time.monotonic()
            with self._lock:
                for deadline in self._armed:
                    if deadline.at <= now and deadline.socket is not None and not deadline.fired:
                        deadline.fired = True
                        _shut_down(deadline.socket)


def _shut_down(descriptor: int) -> None:
    """Shut the socket down (the driver's pending read returns), leaving the
    descriptor itself to its owner."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(descriptor))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


_WATCHDOG = _Watchdog()


# -- the engine: the one place where connections are set up ------------------------------


def _create_engine(
    url: str, shown_url: str, secrets: _Secrets, timeouts: Timeouts, options: dict[str, Any]
) -> tuple[Engine, bool]:
    """The engine for ``url`` with every timeout set; and whether the database
    is an in-memory SQLite database."""
    parsed = None
    with contextlib.suppress(Exception):
        parsed = make_url(url)
    if parsed is None:
        raise ValueError(
            f"{shown_url!r} is not a database URL SQLAlchemy can read "
            "(dialect[+driver]://user:password@host[:port]/database; percent-encode "
            "'@', ':' and '/' in a user name or password)"
        )
    if "@" in (parsed.host or ""):
        raise ValueError(
            f"the database URL {shown_url!r} has an '@' after its user information: "
            "percent-encode an '@' in the password as %40"
        )
    backend = parsed.get_backend_name()
    if backend not in _DIALECTS:
        supported = ", ".join(f"{name}://" for name in _DIALECTS)
        raise ValueError(
            f"{shown_url!r} names the database {backend!r}; SQLResultTracker supports {supported}"
        )
    default_driver, extra = _DIALECTS[backend]
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=f"{backend}+{default_driver}")
    options = dict(options)
    connect_args = dict(options.pop("connect_args", {}))
    in_memory = False
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:")
        connect_args.setdefault("timeout", timeouts.lock)  # the busy timeout
        if in_memory:
            # One database for the tracker (not one per thread): one connection,
            # shared by all threads, one at a time (SQLResultTracker._serial).
            connect_args.setdefault("check_same_thread", False)
            options.setdefault("poolclass", sa.pool.StaticPool)
        else:
            options.setdefault("pool_timeout", timeouts.pool)
    elif backend == "postgresql":
        # libpq's own settings, sent with the connection: no extra round trip.
        # enable_sort=off: every ordered query here pages through the primary
        # key (key > after ORDER BY key LIMIT n), whose plan is an index range
        # scan. Without statistics (a table just filled, not yet analysed) the
        # planner may instead scan and sort the whole table for every page,
        # which makes a scan quadratic in the table's size; this only makes it
        # prefer the index where one serves (results are the same).
        connect_args.setdefault("connect_timeout", max(2, math.ceil(timeouts.connect)))
        server = (
            f"-c statement_timeout={math.ceil(timeouts.statement * 1000)} "
            f"-c lock_timeout={math.ceil(timeouts.lock * 1000)} -c TimeZone=UTC "
            "-c enable_sort=off"
        )
        connect_args["options"] = f"{server} {connect_args.get('options', '')}".strip()
        options.setdefault("pool_timeout", timeouts.pool)
        # No hstore column here: no query for its type on a new engine's first
        # connection (a fresh reader's round trip).
        options.setdefault("use_native_hstore", False)
    else:
        connect_args.setdefault("connect_timeout", timeouts.connect)
        # The handshake is read under read_timeout: the connect timeout until
        # _on_mysql_connect raises it to the statement bound.
        connect_args.setdefault("read_timeout", timeouts.connect)
        connect_args.setdefault("write_timeout", timeouts.read)
        options.setdefault("pool_timeout", timeouts.pool)
    # Every statement is its own transaction (one round trip: no BEGIN, no
    # COMMIT); the table creation opens the one explicit transaction.
    options.setdefault("isolation_level", "AUTOCOMMIT")
    failure: BaseException | None = None
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    except ImportError as error:
        raise ImportError(
            f"the driver for {shown_url!r} is not installed ({error}); "
            f"pip install 'resulttracker[{extra}]'"
        ) from error
    except (sa_exc.ArgumentError, TypeError, ValueError) as error:
        failure = error
    if failure is not None:
        problem = ValueError(f"cannot open {shown_url!r}: {secrets.scrub(str(failure))}")
        problem.__cause__ = secrets.safe_cause(failure)
        raise problem
    # insert=True: before SQLAlchemy's own first-connect queries, which the
    # timeouts set here must already bound.
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect, insert=True)
        if not in_memory:
            sa.event.listen(engine, "do_connect", _sqlite_connect)
            sa.event.listen(engine, "checkout", _sqlite_checkout)
    elif backend == "postgresql":
        sa.event.listen(engine, "connect", _on_postgresql_connect, insert=True)
    else:
        sa.event.listen(engine, "connect", _mysql_connect_listener(timeouts), insert=True)
    return engine, in_memory


#: SQLite's answers when a WAL database cannot be read for want of writing its
#: ``-shm`` file (the reader can write neither the folder nor the file).
_SQLITE_NO_SHM = {"SQLITE_READONLY_DIRECTORY", "SQLITE_READONLY_CANTINIT", "SQLITE_CANTOPEN"}


def _sqlite_connect(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    """Open a SQLite file; a reader that cannot create the WAL's ``-shm`` file
    reads it as immutable instead of failing.

    WAL readers share an index in ``<file>-shm``: SQLite creates it, or opens it
    read-only if it exists. A reader that can write neither the folder nor the
    file, while no ``-wal`` exists (no writer has the file open: everything is in
    the file itself), gets the file as it is, opened ``immutable``; as soon as a
    ``-wal`` appears, :func:`_sqlite_checkout` drops that connection and the next
    one is a normal WAL reader again.
    """
    connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
    try:
        connection.execute("PRAGMA journal_mode").fetchone()
    except sqlite3.OperationalError as error:
        path = _sqlite_path(cargs[0], cparams)
        if getattr(error, "sqlite_errorname", "") not in _SQLITE_NO_SHM or path is None:
            connection.close()
            raise
        if os.path.exists(path + "-wal"):
            connection.close()
            raise
        connection.close()
        immutable = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro&immutable=1"
        connection = dialect.loaded_dbapi.connect(immutable, **{**cparams, "uri": True})
        record.info["rt_immutable"] = path
    return connection


def _sqlite_path(name: str, cparams: dict[str, Any]) -> str | None:
    """The file of a SQLite database name (a path, or a ``file:`` URI)."""
    if not cparams.get("uri"):
        return name
    parts = urllib.parse.urlsplit(name)
    if parts.scheme != "file" or "memory" in urllib.parse.parse_qs(parts.query).get("mode", []):
        return None
    return urllib.parse.unquote(parts.path) or None


def _sqlite_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    path = record.info.get("rt_immutable")
    if path is not None and os.path.exists(path + "-wal"):
        # A writer has opened the file since: an immutable reader would miss its
        # writes. SQLAlchemy reconnects on this error.
        raise sa_exc.DisconnectionError("a writer opened the database; reconnecting")


def _on_sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    if record.info.get("rt_immutable"):
        return
    cursor = dbapi_connection.cursor()
    try:
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() not in ("wal", "memory"):
            # WAL lets readers run beside the one writer; the setting is stored in
            # the file, so only the first connection ever changes it. A reader
            # that may not write the file reads it in the mode it is in.
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as error:
                if not getattr(error, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
                    raise
    finally:
        cursor.close()


def _on_postgresql_connect(dbapi_connection: Any, _record: Any) -> None:
    # A new connection made inside an operation is watched from its first query
    # (SQLAlchemy's own version and settings queries included).
    deadline = _WATCHDOG.current()
    if deadline is not None:
        deadline.watch(dbapi_connection)


def _mysql_connect_listener(timeouts: Timeouts) -> Callable[[Any, Any], None]:
    lock = max(1, math.ceil(timeouts.lock))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The handshake is done: from now on the client waits for an answer as
        # long as a statement may run. (PyMySQL reads the attribute before each read.)
        if hasattr(dbapi_connection, "_read_timeout"):
            dbapi_connection._read_timeout = timeouts.read
        # Each upsert is its own transaction; under REPEATABLE READ (the InnoDB
        # default) it takes gap locks that make concurrent upserts deadlock far
        # more often: READ COMMITTED (MariaDB names the variable tx_isolation).
        if "mariadb" in dbapi_connection.get_server_info().lower():
            statement = f"max_statement_time = {timeouts.statement:g}"
            isolation = "tx_isolation = 'READ-COMMITTED'"
        else:
            statement = f"max_execution_time = {math.ceil(timeouts.statement * 1000)}"
            isolation = "transaction_isolation = 'READ-COMMITTED'"
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(
                f"SET SESSION innodb_lock_wait_timeout = {lock}, "
                f"lock_wait_timeout = {lock}, {statement}, {isolation}"
            )
        finally:
            cursor.close()

    return on_connect


class _SQLStore(Store):
    """The table as a :class:`~resulttracker.store.Store` (the tracker's primitives)."""

    sorted_listing = True  # ORDER BY key
    modification_times = True

    def __init__(self, tracker: SQLResultTracker) -> None:
        self._tracker = tracker

    def __repr__(self) -> str:
        return repr(self._tracker)

    def exists(self) -> bool:
        # The base is the table, made by the first write as a folder is: a
        # mistyped SQLite file or table name is said, not read as an empty store.
        return self._tracker._prepare(create=False)

    def read(self, key: str) -> bytes | None:
        return self._tracker._read(key)

    def read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        return self._tracker._read_many(keys)

    def write(self, key: str, document: bytes) -> None:
        self._tracker._write(key, document)

    def delete(self, key: str) -> bool:
        return self._tracker._delete(key)

    def list_keys(self, prefix: str) -> Iterable[str]:
        return self._tracker._list_keys(prefix)

    def scan(self, prefix: str) -> Iterable[tuple[str, bytes | None, datetime | None]]:
        return self._tracker._scan_documents(prefix)

    def count(self, prefix: str) -> int:
        return self._tracker._count(prefix)

    def location(self, key: str) -> str:
        return self._tracker._location(key)

    # -- version tags: the revision column (no snapshots: a scan is one query per
    # batch already) --------------------------------------------------------------------

    versions = True

    def list_versions(self, prefix: str) -> Iterable[Listed]:
        return self._tracker._list_versions(prefix)

    def read_versioned(self, key: str) -> Versioned:
        return self._tracker._read_versioned(key)

    def read_many_versioned(self, keys: Sequence[str]) -> Iterable[tuple[str, Versioned]]:
        return self._tracker._read_many_versioned(keys)
