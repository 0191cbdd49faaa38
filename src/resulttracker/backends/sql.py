"""``SQLResultTracker``: one row per key in a SQL table (SQLite, PostgreSQL, MariaDB/MySQL).

The table holds the key, the results document exactly as :mod:`resulttracker.codec`
encodes it (as text), the UTC time of the last write and a revision that every
write changes (layout version 2; tables of version 1 gain the column on the
first write, see :meth:`SQLResultTracker._upgrade_schema`). A second table,
``<table>_schema``, records the layout version so that a table written by another
version of resulttracker (or by something else entirely) is refused rather than
misread.

Built on SQLAlchemy 2 Core. Per dialect:

* **Keys compare bytewise**, so that ordering and equality are those of Python's
  ``str`` (case-sensitive, no trailing-space padding): SQLite's default ``BINARY``
  collation, PostgreSQL ``COLLATE "C"``, and on MariaDB/MySQL a ``VARBINARY(1024)``
  holding the UTF-8 bytes (a binary column has no pad-space collation, and 1024
  bytes fit InnoDB's 3072-byte index limit where ``utf8mb4`` ``VARCHAR(1024)``
  would not).
* **Writes are one upsert statement**: ``INSERT ... ON CONFLICT DO UPDATE``
  (SQLite, PostgreSQL) or ``INSERT ... ON DUPLICATE KEY UPDATE`` (MariaDB/MySQL).
* **Prefix queries are index ranges**: ``key = p`` or ``p/ <= key < p0`` ('0' is
  the character after '/'), never ``LIKE``, so ``%`` and ``_`` are literal.
* **Concurrency**: SQLite runs in WAL mode with a busy timeout, in driver
  autocommit so that each statement is its own short transaction; every dialect
  retries a bounded number of times on lock contention (``database is locked``,
  deadlock, serialization failure, lock wait timeout). A single-row upsert is
  idempotent, so a retry can never apply a write twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url

from .._urls import redact_url
from ..api import StoreTracker
from ..errors import StoreError
from ..store import BATCH_SIZE, Listed, Store, Versioned

__all__ = ["SCHEMA_VERSION", "SQLResultTracker"]

T = TypeVar("T")

#: The version of the table layout this module reads and writes.
SCHEMA_VERSION = 2
#: Older layouts this module upgrades (on the first write; reads work without).
_UPGRADABLE_VERSIONS = (1,)

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

#: Attempts of one operation when the database reports lock contention.
_MAX_ATTEMPTS = 12

#: Seconds a SQLite connection waits for a lock before the retry loop takes over.
_SQLITE_BUSY_TIMEOUT = 30.0

#: Seconds to wait for a server connection; the drivers' own default is unbounded
#: (psycopg) on an unresponsive host.
_CONNECT_TIMEOUT = 10

#: PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock, lock timeout.
_PG_TRANSIENT = {"40001", "40P01", "55P03"}
#: MariaDB/MySQL error numbers worth retrying: lock wait timeout, deadlock.
_MYSQL_TRANSIENT = {1205, 1213}


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


def _define_tables(name: str) -> tuple[sa.Table, sa.Table]:
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

    def __init__(self, url: str, /, *, table: str = "results", **engine_options: Any) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError(f"url must be a non-empty database URL, got {url!r}")
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"table must be a plain SQL identifier (letters, digits, '_'; at most 56 "
                f"characters, not starting with a digit), got {table!r}"
            )
        self._url = url
        self._shown_url = redact_url(url)
        self._table_name = table
        self._engine = _create_engine(url, self._shown_url, engine_options)
        self._dialect = self._engine.dialect.name
        database = self._engine.url.database
        self._sqlite_file: str | None = (
            database
            if self._dialect == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            else None
        )
        self._results, self._schema = _define_tables(table)
        self._ready = False
        self._has_revision = True  # False: a version-1 table, read without upgrading
        self._ready_lock = threading.Lock()
        self._pid = os.getpid()
        self._upsert = self._build_upsert()
        # SQLite hands back TEXT that is not UTF-8 as a decoding error; read the
        # bytes as stored so that the codec can say what is wrong with them.
        self._document: sa.ColumnElement[Any] = (
            sa.cast(self._results.c.document, sa.LargeBinary).label("document")
            if self._dialect == "sqlite"
            else self._results.c.document
        )
        super().__init__(_SQLStore(self))

    @property
    def url(self) -> str:
        """The database URL given at construction."""
        return self._url

    @property
    def table(self) -> str:
        """The name of the results table."""
        return self._table_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._shown_url!r}, table={self._table_name!r})"

    def close(self) -> None:
        """Close the pooled connections; the tracker reconnects if used again."""
        self._engine.dispose()

    # -- the storage primitives ------------------------------------------------------

    def _location(self, key: str) -> str:
        return f"{self._shown_url}#{self._table_name}/{key}"

    def _read(self, key: str) -> bytes | None:
        if not self._prepare(create=False):
            return None
        column = self._results.c
        query = sa.select(self._document).where(column.key == key)
        rows = self._rows(f"reading key {key!r}", query)
        return _as_bytes(rows[0].document) if rows else None

    # Faster than the default: one query per chunk of keys instead of one per key.
    def _read_many(self, keys: Sequence[str]) -> Iterable[tuple[str, bytes | None]]:
        if not self._prepare(create=False):
            return [(key, None) for key in keys]
        column = self._results.c
        query = sa.select(column.key, self._document).where(
            column.key.in_(sa.bindparam("keys", expanding=True))
        )
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = list(keys[start : start + _READ_CHUNK])
            rows = self._rows(f"reading {len(chunk)} keys", query, {"keys": chunk})
            found.update((row.key, _as_bytes(row.document)) for row in rows)
        return [(key, found.get(key)) for key in keys]

    def _write(self, key: str, document: bytes) -> None:
        self._prepare(create=True)
        values = {
            "key": key,
            "document": document.decode("utf-8"),
            "modified": datetime.now(timezone.utc),
            "revision": random.getrandbits(62),
        }
        self._run(f"writing key {key!r}", lambda c: c.execute(self._upsert, values))

    def _delete(self, key: str) -> bool:
        if not self._prepare(create=False):
            return False
        statement = sa.delete(self._results).where(self._results.c.key == key)
        deleted: int = self._run(f"deleting key {key!r}", lambda c: c.execute(statement).rowcount)
        return deleted > 0

    def _list_keys(self, prefix: str) -> Iterable[str]:
        if not self._prepare(create=False):
            return []
        column = self._results.c
        query = sa.select(column.key).where(self._under(prefix)).order_by(column.key)
        return [row.key for row in self._rows("listing keys", query)]

    # Faster than the default: documents and times come with the keys, in batches
    # of BATCH_SIZE rows fetched by key range ("keyset pagination").
    def _scan_documents(self, prefix: str) -> Iterator[tuple[str, bytes | None, datetime | None]]:
        if not self._prepare(create=False):
            return
        column = self._results.c
        fields = sa.select(column.key, self._document, column.modified)
        if prefix:
            # The key equal to the prefix sorts before every key under "prefix/".
            exact = fields.where(column.key == prefix)
            for row in self._rows("scanning keys", exact):
                yield row.key, _as_bytes(row.document), row.modified
            lower: sa.ColumnElement[bool] = column.key >= prefix + "/"
            upper: sa.ColumnElement[bool] | None = column.key < prefix + "0"
        else:
            lower, upper = sa.true(), None
        # Each batch is a short, independent query over an index range, so no
        # connection or transaction stays open between batches while the caller
        # works on the records (a long-lived server-side cursor would hold back
        # SQLite checkpoints and PostgreSQL vacuum, and MariaDB drops a streaming
        # connection whose reader pauses longer than net_write_timeout).
        while True:
            condition = lower if upper is None else sa.and_(lower, upper)
            query = fields.where(condition).order_by(column.key).limit(BATCH_SIZE)
            rows = self._rows("scanning keys", query)
            for row in rows:
                yield row.key, _as_bytes(row.document), row.modified
            if len(rows) < BATCH_SIZE:
                return
            lower = column.key > rows[-1].key

    # Faster than the default, which lists every key.
    def __len__(self) -> int:
        if not self._prepare(create=False):
            return 0
        query = sa.select(sa.func.count()).select_from(self._results)
        count: int = self._rows("counting keys", query)[0][0]
        return count

    # -- helpers ---------------------------------------------------------------------

    def _under(self, prefix: str) -> sa.ColumnElement[bool]:
        """The condition selecting ``prefix`` and every key below ``prefix/``."""
        key = self._results.c.key
        if not prefix:
            return sa.true()
        return sa.or_(key == prefix, sa.and_(key >= prefix + "/", key < prefix + "0"))

    def _build_upsert(self) -> Any:
        table = self._results
        if self._dialect in ("postgresql", "sqlite"):
            # The two dialects spell the upsert the same way.
            dialect = postgresql if self._dialect == "postgresql" else sqlite
            insert = dialect.insert(table)
            return insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "document": insert.excluded.document,
                    "modified": insert.excluded.modified,
                    "revision": table.c.revision + 1,
                },
            )
        my_insert = mysql.insert(table)
        return my_insert.on_duplicate_key_update(
            document=my_insert.inserted.document,
            modified=my_insert.inserted.modified,
            revision=table.c.revision + 1,
        )

    def _prepare(self, *, create: bool) -> bool:
        """Make sure the tables exist in the expected version; return whether they do.

        With ``create=False`` (reads) missing tables are not created and ``False``
        is returned, so that reading never needs write access to the database.
        """
        if self._ready and (self._has_revision or not create):
            return True
        with self._ready_lock:
            if self._ready and (self._has_revision or not create):
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
                self._run("creating the tables", self._create_schema)
            elif state == "upgrade":
                if create:
                    self._run("upgrading the table layout", self._upgrade_schema)
                else:  # read as it is: reading never needs write access
                    self._has_revision = False
                    self._ready = True
                    return True
            self._has_revision = True
            self._ready = True
            return True

    def _check_schema(self, connection: Connection) -> str:
        """Return ``"ready"``, ``"missing"`` or ``"upgrade"`` (an older layout this
        module upgrades), or raise if the table is not ours or of a newer version.

        Each check is its own statement and may see a creator's progress between
        two of them (on MariaDB/MySQL every DDL statement commits on its own).
        The creator makes the schema table, then the results table, then records
        the version; reading in the order results table, schema table, version
        makes every interleaving give the right answer.
        """
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
        version = connection.execute(sa.select(sa.func.max(self._schema.c.version))).scalar()
        if version is None:
            # A creator is at work (or died before recording the version):
            # _create_schema waits for its lock and completes what is missing.
            return "missing"
        if version in _UPGRADABLE_VERSIONS:
            return "upgrade"
        if version != SCHEMA_VERSION:
            age = "an older" if version < SCHEMA_VERSION else "a newer"
            raise StoreError(
                f"table {self._table_name!r} in {self._shown_url} has layout version "
                f"{version}, written by {age} resulttracker; this version reads and writes "
                f"only version {SCHEMA_VERSION}. Use a resulttracker that matches, copy the "
                "results into a new table, or choose another table name with table=..."
            )
        # The results table may have been created after it was looked for.
        if not has_results and not sa.inspect(connection).has_table(self._results.name):
            raise StoreError(
                f"table {self._table_name!r} in {self._shown_url} is missing although its "
                f"{self._schema.name!r} table exists; drop {self._schema.name!r} or "
                "choose another table name with table=..."
            )
        return "ready"

    def _create_schema(self, connection: Connection) -> None:
        """Create both tables and record the version, under a database-wide lock so
        that many processes starting at once create them exactly once."""
        with self._creation_lock(connection):
            if self._check_schema(connection) == "ready":
                return
            # This order is the one _check_schema relies on.
            for table in (self._schema, self._results):
                connection.execute(sa.schema.CreateTable(table, if_not_exists=True))
            connection.execute(self._record_version())

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
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        elif self._dialect == "postgresql":
            # Held until the transaction ends; DDL is transactional in PostgreSQL.
            digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
            lock_id = int.from_bytes(digest, "big", signed=True)
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
            yield
        else:
            # DDL commits implicitly in MariaDB/MySQL: a session lock spans it.
            lock_name = "rt:" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
            acquired = connection.execute(
                sa.select(sa.func.get_lock(lock_name, int(_SQLITE_BUSY_TIMEOUT)))
            ).scalar()
            if acquired != 1:
                raise StoreError(
                    f"timed out waiting for another process to create table "
                    f"{self._table_name!r} in {self._shown_url}"
                )
            try:
                yield
            finally:
                connection.execute(sa.select(sa.func.release_lock(lock_name)))

    def _rows(
        self, operation: str, query: sa.Executable, parameters: dict[str, Any] | None = None
    ) -> Sequence[sa.Row[Any]]:
        """All rows of one query (see :meth:`_run`)."""
        return self._run(operation, lambda connection: connection.execute(query, parameters).all())

    def _run(self, operation: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction, retrying on lock contention; the one place
        where SQLAlchemy and driver errors become :class:`StoreError`."""
        if os.getpid() != self._pid:
            # A forked child must not share the parent's sockets: drop the
            # inherited pool without closing it (the parent still uses it).
            self._engine.dispose(close=False)
            self._pid = os.getpid()
        attempt = 0
        while True:
            try:
                with self._engine.begin() as connection:
                    return work(connection)
            except sa_exc.DBAPIError as error:
                attempt += 1
                if attempt < _MAX_ATTEMPTS and self._is_transient(error, attempt):
                    time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
                    continue
                raise self._store_error(operation, error) from _safe_cause(error, self._url)
            except sa_exc.SQLAlchemyError as error:
                raise self._store_error(operation, error) from _safe_cause(error, self._url)

    def _is_transient(self, error: sa_exc.DBAPIError, attempt: int) -> bool:
        original = error.orig
        if error.connection_invalidated:
            # The server closed an idle pooled connection: one fresh try.
            return attempt == 1
        if self._dialect == "sqlite":
            text = str(original).lower()
            return isinstance(original, sqlite3.OperationalError) and (
                "locked" in text or "busy" in text
            )
        if self._dialect == "postgresql":
            return getattr(original, "sqlstate", None) in _PG_TRANSIENT
        code = original.args[0] if original is not None and original.args else None
        return code in _MYSQL_TRANSIENT

    def _store_error(self, operation: str, error: sa_exc.SQLAlchemyError) -> StoreError:
        original = getattr(error, "orig", None) or error
        detail = str(original).strip().splitlines()[0] if str(original).strip() else ""
        detail = _scrub(detail, self._url)
        return StoreError(
            f"{operation} failed (table {self._table_name!r} in {self._shown_url}): "
            f"{type(original).__name__}: {detail}"
        )

    # -- version tags (the change feed): the revision column ------------------------------

    def _upgrade_schema(self, connection: Connection) -> None:
        """Upgrade a version-1 table to version 2 (add the revision column), under
        the creation lock, so that many processes upgrading at once do it once.

        Each step is checked before it is made: on MariaDB/MySQL the ``ALTER``
        commits on its own, and an upgrader that died after it leaves the
        column without the version row, which the next one completes.
        """
        with self._creation_lock(connection):
            if self._check_schema(connection) == "ready":
                return
            columns = {
                column["name"] for column in sa.inspect(connection).get_columns(self._results.name)
            }
            if "revision" not in columns:
                column = self._results.c.revision
                kind = column.type.compile(dialect=connection.dialect)
                quote = connection.dialect.identifier_preparer.quote
                connection.exec_driver_sql(
                    f"ALTER TABLE {quote(self._results.name)} ADD COLUMN revision "
                    f"{kind} NOT NULL DEFAULT 0"
                )
            connection.execute(self._record_version())

    def _revision(self) -> sa.ColumnElement[Any]:
        # A version-1 table read without upgrading has no revision: 0 stands in,
        # and the modification time in the version still tells writes apart.
        column = self._results.c
        return column.revision if self._has_revision else sa.literal(0).label("revision")

    def _list_versions(self, prefix: str) -> list[Listed]:
        if not self._prepare(create=False):
            return []
        column = self._results.c
        query = sa.select(column.key, self._revision(), column.modified).where(self._under(prefix))
        return [
            Listed(row.key, _version(row.revision, row.modified), row.modified)
            for row in self._rows("listing keys with versions", query)
        ]

    def _read_many_versioned(self, keys: Sequence[str]) -> list[tuple[str, Versioned]]:
        if not self._prepare(create=False):
            return [(key, Versioned(None, None, None)) for key in keys]
        column = self._results.c
        query = sa.select(column.key, self._document, self._revision(), column.modified).where(
            column.key.in_(sa.bindparam("keys", expanding=True))
        )
        found: dict[str, Versioned] = {}
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = list(keys[start : start + _READ_CHUNK])
            for row in self._rows(f"reading {len(chunk)} keys", query, {"keys": chunk}):
                found[row.key] = Versioned(
                    _as_bytes(row.document), _version(row.revision, row.modified), row.modified
                )
        return [(key, found.get(key, Versioned(None, None, None))) for key in keys]


# -- module helpers ----------------------------------------------------------------------


def _version(revision: int, modified: datetime) -> str:
    # The time too: a process of an older resulttracker still writing to an
    # upgraded table changes the document and the time but not the revision.
    return f"r:{revision:x}:{modified.isoformat()}"


def _as_bytes(document: Any) -> bytes:
    return document.encode("utf-8") if isinstance(document, str) else bytes(document)


def _password(url: str) -> str | None:
    with contextlib.suppress(Exception):
        return make_url(url).password
    return None


def _scrub(text: str, url: str) -> str:
    password = _password(url)
    return text.replace(password, "***") if password else text


def _safe_cause(error: BaseException, url: str) -> BaseException | None:
    """``error`` to chain as the cause, or ``None`` if its text would show the password."""
    password = _password(url)
    if password and password in str(error):
        return None
    return error


def _create_engine(url: str, shown_url: str, options: dict[str, Any]) -> Engine:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ValueError(f"{shown_url!r} is not a database URL") from None
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
    if backend == "sqlite":
        connect_args.setdefault("timeout", _SQLITE_BUSY_TIMEOUT)
        # Autocommit in the driver: each statement is its own transaction, and the
        # creation lock issues its own BEGIN IMMEDIATE.
        options.setdefault("isolation_level", "AUTOCOMMIT")
    else:
        connect_args.setdefault("connect_timeout", _CONNECT_TIMEOUT)
        if backend != "postgresql":
            # REPEATABLE READ (the InnoDB default) takes gap locks that make
            # concurrent upserts deadlock far more often.
            options.setdefault("isolation_level", "READ COMMITTED")
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    except ImportError as error:
        raise ImportError(
            f"the driver for {shown_url!r} is not installed ({error}); "
            f"pip install 'resulttracker[{extra}]'"
        ) from error
    except (sa_exc.ArgumentError, TypeError) as error:
        raise ValueError(f"cannot open {shown_url!r}: {_scrub(str(error), url)}") from _safe_cause(
            error, url
        )
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() not in ("wal", "memory"):
            # WAL lets readers run beside the one writer; the setting is stored in
            # the file, so only the first connection ever changes it.
            cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


class _SQLStore(Store):
    """The table as a :class:`~resulttracker.store.Store` (the tracker's primitives)."""

    sorted_listing = True  # ORDER BY key
    modification_times = True

    def __init__(self, tracker: SQLResultTracker) -> None:
        self._tracker = tracker

    def __repr__(self) -> str:
        return repr(self._tracker)

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
        return len(self._tracker) if not prefix else sum(1 for _ in self.list_keys(prefix))

    def location(self, key: str) -> str:
        return self._tracker._location(key)

    # -- version tags: the revision column (no snapshots: a scan is one query already) ----

    versions = True

    def list_versions(self, prefix: str) -> Iterable[Listed]:
        return self._tracker._list_versions(prefix)

    def read_versioned(self, key: str) -> Versioned:
        return self._tracker._read_many_versioned([key])[0][1]

    def read_many_versioned(self, keys: Sequence[str]) -> Iterable[tuple[str, Versioned]]:
        return self._tracker._read_many_versioned(keys)
