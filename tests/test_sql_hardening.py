"""The SQL backend against an unlucky operator and an attacker: servers that stop
answering, sessions holding locks, passwords that leak, SQLite corner cases.

Everything runs against real components: the local PostgreSQL and MariaDB
servers, a second real session holding the lock, and loopback sockets opened
here (a server that accepts and never answers; a proxy that freezes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import select
import shutil
import socket
import tempfile
import threading
import time
import traceback
import tracemalloc
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from resulttracker import StoreError, open_tracker
from resulttracker.backends.sql import SQLResultTracker

from .sql_harness import SQL_STORES, SQLHarness, drop_tables, server_url, sql_store, unique_table

SERVERS = ("postgres", "mariadb")


@pytest.fixture(params=SQL_STORES)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLHarness]:
    """Each SQL database in turn, with fresh tables."""
    yield from sql_store(request.param, tmp_path)


# -- tools: real sockets and real second sessions ------------------------------------------


def finishes_within(seconds: float, work: Callable[[], Any]) -> tuple[BaseException | None, float]:
    """Run ``work`` in a thread; fail the test if it is still running after
    ``seconds`` (instead of hanging the suite). Return what it raised and how long
    it took."""
    outcome: list[BaseException | None] = [None]

    def run() -> None:
        try:
            work()
        except BaseException as error:
            outcome[0] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    took = time.monotonic() - started
    assert not thread.is_alive(), f"still waiting after {seconds:g} s: no bound"
    return outcome[0], took


class SilentServer:
    """A loopback server that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


class FreezingProxy:
    """A loopback TCP proxy to a real server that can stop forwarding (in both
    directions) while keeping every connection open: a frozen server as the
    client sees it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                self.sockets += [client, server]
                threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        with contextlib.suppress(OSError, ValueError):
            while True:
                if self.frozen.is_set():
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    peers[source].sendall(data)

    def close(self) -> None:
        self.listener.close()
        for connection in self.sockets:
            connection.close()


def via(url: str, port: int, *, password: str | None = None) -> str:
    """``url`` pointed at 127.0.0.1:``port`` (and given ``password``)."""
    parsed = sa.make_url(url).set(host="127.0.0.1", port=port)
    if password is not None:
        parsed = parsed.set(password=password)
    return parsed.render_as_string(hide_password=False)


def assert_names_the_store(error: BaseException | None, tracker: SQLResultTracker) -> StoreError:
    assert isinstance(error, StoreError), repr(error)
    assert repr(tracker).split("(", 1)[1].split("'")[1] in str(error)  # the redacted URL
    assert f"table {tracker.table!r}" in str(error)
    return error


# -- item 8: no operation hangs without a bound ---------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_a_server_that_accepts_and_never_answers_fails_within_the_connect_timeout(
    server: str,
) -> None:
    silent = SilentServer()
    url = via(server_url(server), silent.port, password="pw")
    tracker = SQLResultTracker(url, table=unique_table(), connect_timeout=1)
    try:
        for attempt in (lambda: tracker.get("k"), lambda: tracker.put("k", x=1)):
            error, took = finishes_within(15, attempt)
            failure = assert_names_the_store(error, tracker)
            # psycopg waits at least 2 s (as libpq does); PyMySQL 1 s.
            assert took < 6, took
            assert "connect_timeout=1" in str(failure) or "timed out" in str(failure)
            assert ":pw@" not in str(failure)
    finally:
        tracker.close()
        silent.close()


@pytest.mark.parametrize("server", SERVERS)
def test_a_server_that_freezes_mid_session_fails_within_the_statement_bound(server: str) -> None:
    target = sa.make_url(server_url(server))
    proxy = FreezingProxy(target.host or "127.0.0.1", target.port or 0)
    table = unique_table()
    tracker = SQLResultTracker(
        via(str(target), proxy.port), table=table, statement_timeout=1, connect_timeout=2
    )
    truth = sa.create_engine(server_url(server))
    try:
        tracker.put("k", x=1)
        assert tracker.get("k") == {"x": 1}
        proxy.frozen.set()
        # The pooled connection is cut off; a new connection meets the frozen
        # server in its handshake (the connect timeout) or its first query.
        for attempt in (lambda: tracker.get("k"), lambda: tracker.put("k", x=2)):
            error, took = finishes_within(20, attempt)
            failure = assert_names_the_store(error, tracker)
            assert took < 4, took
            assert "did not answer within 2 s" in str(failure) or (
                "connect_timeout=2 s" in str(failure)
            )
        with truth.connect() as connection:  # the frozen put wrote nothing
            assert connection.execute(sa.text(f"SELECT document FROM {table}")).scalar_one() == (
                '{\n  "x": 1\n}'
            )
        proxy.frozen.clear()
        assert tracker.get("k") == {"x": 1}  # and the tracker recovers with the server
    finally:
        tracker.close()
        proxy.close()
        drop_tables(truth, table)
        truth.dispose()


@contextlib.contextmanager
def second_session(harness: SQLHarness, *statements: str) -> Iterator[sa.Connection]:
    """A second real session that runs ``statements`` in a transaction it keeps
    open (holding whatever locks they took) until the block ends."""
    engine = sa.create_engine(harness.base, isolation_level="AUTOCOMMIT")
    connection = engine.connect()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if harness.name == "sqlite" else "BEGIN")
        for statement in statements:
            connection.exec_driver_sql(statement)
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.exec_driver_sql("ROLLBACK")
        connection.close()
        engine.dispose()


def quoted_key(harness: SQLHarness) -> str:
    return "`key`" if harness.name == "mariadb" else '"key"'


def test_a_row_locked_by_another_session_fails_within_the_lock_timeout(sql: SQLHarness) -> None:
    sql.tracker.put("k", x=1)
    tracker = SQLResultTracker(sql.base, table=sql.table, lock_timeout=1)
    sql.opened.append(tracker)
    lock = (
        []  # BEGIN IMMEDIATE takes SQLite's one write lock
        if sql.name == "sqlite"
        else [f"UPDATE {sql.table} SET document = document WHERE {quoted_key(sql)} = 'k'"]
    )
    with second_session(sql, *lock):
        error, took = finishes_within(20, lambda: tracker.put("k", x=2))
        failure = assert_names_the_store(error, tracker)
        assert "writing key 'k' failed" in str(failure)
        assert "lock_timeout=1 s" in str(failure)
        assert took < 4, took
        assert tracker.get("k") == {"x": 1}  # readers are not blocked by a row lock
    assert sql.raw_read("k") == b'{\n  "x": 1\n}'  # nothing written
    tracker.put("k", x=3)  # the lock is gone: writes work again
    assert sql.raw_read("k") == b'{\n  "x": 3\n}'


@pytest.mark.parametrize("server", SERVERS)
def test_a_table_locked_by_another_session_fails_within_the_lock_timeout(
    server: str, tmp_path: Path
) -> None:
    harness = next(sql_store(server, tmp_path))
    harness.tracker.put("k", x=1)
    tracker = SQLResultTracker(harness.base, table=harness.table, lock_timeout=1)
    lock = (
        f"LOCK TABLE {harness.table} IN ACCESS EXCLUSIVE MODE"
        if server == "postgres"
        else f"LOCK TABLES {harness.table} WRITE"
    )
    assert tracker.get("k") == {"x": 1}  # the layout is checked before the lock
    fresh = SQLResultTracker(harness.base, table=harness.table, lock_timeout=1)
    try:
        with second_session(harness, lock):
            for operation, attempt in [
                ("reading key 'k'", lambda: tracker.get("k")),
                ("writing key 'k'", lambda: tracker.put("k", x=2)),
                ("listing keys", lambda: list(tracker.keys())),
                ("checking the table layout", lambda: fresh.get("k")),
            ]:
                error, took = finishes_within(20, attempt)
                failure = assert_names_the_store(error, tracker)
                assert f"{operation} failed" in str(failure)
                assert "lock_timeout=1 s" in str(failure)
                assert took < 4, took
        assert harness.raw_read("k") == b'{\n  "x": 1\n}'
    finally:
        tracker.close()
        fresh.close()
        harness.close()
        truth = sa.create_engine(harness.base)
        drop_tables(truth, harness.table)
        truth.dispose()


def test_a_creator_that_holds_the_creation_lock_delays_others_only_to_the_lock_timeout(
    sql: SQLHarness,
) -> None:
    name = f"resulttracker:{sql.table}"
    if sql.name == "postgres":
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        hold = [f"SELECT pg_advisory_xact_lock({int.from_bytes(digest, 'big', signed=True)})"]
    elif sql.name == "mariadb":
        hold = [
            f"SELECT GET_LOCK('rt:{hashlib.blake2b(name.encode(), digest_size=16).hexdigest()}', 1)"
        ]
    else:
        hold = []  # BEGIN IMMEDIATE: the lock SQLite creators take
    tracker = SQLResultTracker(sql.base, table=sql.table, lock_timeout=1)
    sql.opened.append(tracker)
    with second_session(sql, *hold):
        error, took = finishes_within(20, lambda: tracker.put("k", x=1))
        failure = assert_names_the_store(error, tracker)
        assert "lock_timeout=1" in str(failure)
        assert took < 4, took
    assert sql.raw_names() == set()  # no table, no row
    tracker.put("k", x=1)
    assert sql.raw_read("k") == b'{\n  "x": 1\n}'


def test_a_table_half_created_by_another_session_fails_within_the_lock_timeout(
    tmp_path: Path,
) -> None:
    # A DDL lock: another session created the table in a transaction it has not
    # committed (PostgreSQL DDL is transactional).
    harness = next(sql_store("postgres", tmp_path))
    tracker = SQLResultTracker(harness.base, table=harness.table, lock_timeout=1)
    try:
        ddl = f"CREATE TABLE {harness.table}_schema (version INTEGER PRIMARY KEY)"
        with second_session(harness, ddl):
            error, took = finishes_within(20, lambda: tracker.put("k", x=1))
            failure = assert_names_the_store(error, tracker)
            assert "creating the tables failed" in str(failure)
            assert "lock_timeout=1 s" in str(failure)
            assert took < 4, took
        assert harness.raw_names() == set()
    finally:
        tracker.close()
        harness.close()


@pytest.mark.parametrize("server", SERVERS)
def test_the_statement_timeout_reaches_the_server(server: str, tmp_path: Path) -> None:
    harness = next(sql_store(server, tmp_path))
    harness.tracker.put("k", x=1)
    tracker = SQLResultTracker(
        harness.base, table=harness.table, statement_timeout=1, lock_timeout=10
    )
    try:
        with tracker._engine.connect() as connection:
            if server == "postgres":
                shown = connection.exec_driver_sql("SHOW statement_timeout").scalar()
                assert shown == "1s"
                assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "10s"
            else:
                row = connection.exec_driver_sql(
                    "SELECT @@max_statement_time, @@innodb_lock_wait_timeout, @@lock_wait_timeout"
                ).one()
                assert tuple(float(value) for value in row) == (1.0, 10.0, 10.0)
        if server == "postgres":
            # Waiting on a row lock longer than the statement may run: the server
            # cancels the statement, and the error says which timeout it was.
            with second_session(harness, f"UPDATE {harness.table} SET document = document"):
                error, took = finishes_within(20, lambda: tracker.put("k", x=2))
                failure = assert_names_the_store(error, tracker)
                assert "statement_timeout=1 s" in str(failure)
                assert took < 4
    finally:
        tracker.close()
        harness.close()
        truth = sa.create_engine(harness.base)
        drop_tables(truth, harness.table)
        truth.dispose()


def test_a_busy_pool_fails_within_the_pool_timeout(sql: SQLHarness) -> None:
    sql.tracker.put("k", x=1)
    tracker = SQLResultTracker(
        sql.base, table=sql.table, lock_timeout=3, pool_timeout=0.5, pool_size=1, max_overflow=0
    )
    sql.opened.append(tracker)
    lock = (
        []
        if sql.name == "sqlite"
        else [f"UPDATE {sql.table} SET document = document WHERE {quoted_key(sql)} = 'k'"]
    )
    with second_session(sql, *lock):
        # The pool's one connection waits on the lock in another thread...
        def write() -> None:
            with contextlib.suppress(StoreError):
                tracker.put("k", x=2)

        blocked = threading.Thread(target=write, daemon=True)
        blocked.start()
        time.sleep(0.5)
        # ... so a read finds none free.
        error, took = finishes_within(10, lambda: tracker.get("k"))
        failure = assert_names_the_store(error, tracker)
        assert "pool_timeout=0.5 s" in str(failure)
        assert took < 2.5, took
        blocked.join(10)
    assert sql.raw_read("k") == b'{\n  "x": 1\n}'


def test_timeouts_are_checked_and_reach_the_tracker_through_open_tracker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    for bad, error in [(0, ValueError), (-1, ValueError), ("5", TypeError), (True, TypeError)]:
        with pytest.raises(error, match="lock_timeout must be"):
            SQLResultTracker(url, lock_timeout=bad)
    tracker = open_tracker(url, connect_timeout=3, statement_timeout=4, lock_timeout=5)
    assert isinstance(tracker, SQLResultTracker)
    assert (tracker.timeouts.connect, tracker.timeouts.statement, tracker.timeouts.lock) == (
        3,
        4,
        5,
    )
    assert tracker.timeouts.pool == 30
    assert not (tmp_path / "t.db").exists()


# -- item 9: passwords never shown ------------------------------------------------------------

#: Passwords holding every character that splits a URL, raw and percent-encoded.
PASSWORDS = [
    "Sup3r/Secr3t",
    "Sup3r?Secr3t",
    "Sup3r#Secr3t",
    "Sup3r:Secr3t",
    "Sup3r%40Secr3t",  # the text "%40": written "%2540" in a URL
    "Sup3r'Secr3t\\x",  # quotes and backslashes, as libpq escapes them
    "Sup3r€Secr3t",  # PyMySQL cannot encode it: its error shows the password in repr
    "Sup3r@Secr3t",
]


def secret_pieces(password: str) -> set[str]:
    """Every text that would give the password (or a part of it) away."""
    pieces = {password, urllib.parse.quote(password, safe=""), urllib.parse.quote_plus(password)}
    pieces |= {repr(password)[1:-1], "Sup3r", "Secr3t"}
    return pieces


def everything_shown(error: BaseException) -> str:
    """The text of an error as a user, a log or a debugger may see it: message,
    repr and full traceback, and the same for every exception chained to it."""
    texts, seen, pending = [], set(), [error]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        texts += [str(item), repr(item), "".join(traceback.format_exception(item))]
        texts += [repr(argument) for argument in item.args]
        pending += [link for link in (item.__cause__, item.__context__) if link is not None]
        pending += [getattr(item, "orig", None)] if getattr(item, "orig", None) else []
    return "\n".join(texts)


def assert_hidden(text: str, password: str) -> None:
    for piece in secret_pieces(password):
        assert piece not in text, f"{piece!r} shown in: {text[:2000]}"


def urls_with(password: str) -> Iterator[tuple[str, str]]:
    """(where, URL) pairs: the real servers (as a user that does not exist, or
    with a wrong password) and an unreachable port; raw and percent-encoded."""
    encoded = urllib.parse.quote(password, safe="")
    servers = {
        "postgres": "postgresql+psycopg://nobody_rt:{}@127.0.0.1:5432/test",
        "mariadb": "mysql+pymysql://root:{}@127.0.0.1:3306/test",
        "unreachable": "postgresql+psycopg://alice:{}@127.0.0.1:1/test",
    }
    for where, template in servers.items():
        yield f"{where}, percent-encoded", template.format(encoded)
        if "@" not in password and "%" not in password:
            yield f"{where}, raw", template.format(password)


@pytest.mark.parametrize("password", PASSWORDS)
def test_passwords_never_show_in_repr_errors_tracebacks_or_logs(
    password: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for where, url in urls_with(password):
        tracker = SQLResultTracker(url, echo="debug", echo_pool="debug", connect_timeout=2)
        assert_hidden(repr(tracker) + str(tracker), password)
        for attempt in (
            lambda t: t.put("k", x=1),
            lambda t: t.get("k"),
            lambda t: t.get_many(["k", "l"]),
            lambda t: list(t.keys()),
            lambda t: list(t.scan()),
        ):
            with pytest.raises(StoreError) as caught:
                attempt(tracker)
            assert str(caught.value).startswith(("writing key", "checking the table layout")), where
            assert ":***@127.0.0.1:" in str(caught.value), where
            assert_hidden(everything_shown(caught.value), password)
        tracker.close()
    assert_hidden(caplog.text, password)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://alice:Sup3r@Secr3t@127.0.0.1:5432/test",  # raw "@"
        "postgresql+psycopg://alice:Sup3r-Secr3t/127.0.0.1/test",  # forgotten "@"
        "postgresql+psycopg://alice:Sup3r-Secr3t@127.0.0.1:54x2/test",  # port typo
        "postgresql+psycopg//alice:Sup3r-Secr3t@127.0.0.1/test",  # no ":"
        "mysql+pymysql://root:Sup3r@Secr3t@@127.0.0.1/test",
        "mysql+pymysql://root:Sup3r-Secr3t@127.0.0.1/test?password=Secr3t",  # a query secret
    ],
)
def test_url_typos_are_refused_without_showing_the_password(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        tracker = open_tracker(url, connect_timeout=2)
    except ValueError as error:
        assert any(hint in str(error) for hint in ("percent-encode", "is not", "typo"))
        assert_hidden(everything_shown(error), "Sup3r-Secr3t")
        assert_hidden(everything_shown(error), "Sup3r@Secr3t")
    else:
        # A URL that parses: whatever fails later shows no secret either.
        assert_hidden(repr(tracker), "Sup3r-Secr3t")
        with pytest.raises(StoreError) as caught:
            tracker.get("k")
        assert_hidden(everything_shown(caught.value), "Sup3r-Secr3t")
    assert_hidden(caplog.text, "Sup3r-Secr3t")


def test_the_cli_never_shows_the_password(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from resulttracker.cli import cli

    runner = CliRunner()
    source = tmp_path / "source"
    open_tracker(str(source)).put("k", x=1)
    encoded = urllib.parse.quote("Sup3r/Secr3t#@", safe="")
    for url in [
        f"postgresql://nobody_rt:{encoded}@127.0.0.1:5432/test",
        f"mysql://root:{encoded}@127.0.0.1:3306/test",
        f"postgresql://alice:{encoded}@127.0.0.1:1/test",
        "postgresql://alice:Sup3r/Secr3t@127.0.0.1:1/test",
        "postgresql://alice:Sup3r-Secr3t/127.0.0.1:1/test",
    ]:
        for arguments in (
            ["--base", url, "show"],
            ["--base", url, "summary"],
            ["--base", url, "-o", "lock_timeout=1", "keys"],
            ["--base", url, "--debug", "show"],
            ["copy", str(source), url],
        ):
            result = runner.invoke(cli, arguments)
            assert result.exit_code != 0, (arguments, result.output)
            shown = result.output + (
                everything_shown(result.exception) if result.exception is not None else ""
            )
            assert_hidden(shown, "Sup3r/Secr3t#@")
            assert_hidden(shown, "Sup3r-Secr3t")


# -- item 10: SQLite corner cases, and companion tables -----------------------------------


def scan_peak(tracker: Any) -> float:
    """Peak Python memory (MiB, tracemalloc) of a scan whose loop keeps nothing."""
    list(tracker.keys())  # connections and tables opened outside the measure
    tracemalloc.start()
    try:
        total = 0
        for record in tracker.scan():
            total += record.results["n"]
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_sqlite_scan_of_large_documents_holds_memory_like_the_folder(tmp_path: Path) -> None:
    # 100 documents of ~200 kB (8,000 results each): 20 MB in all.
    many = {f"metric/{number:05d}": number + 0.5 for number in range(8000)}
    sqlite = SQLResultTracker(f"sqlite:///{tmp_path}/large.db")
    folder = open_tracker(str(tmp_path / "folder"))
    for number in range(100):
        sqlite.put(f"k{number:04d}", **many, n=number)
        folder.put(f"k{number:04d}", **many, n=number)
    folder_peak, sqlite_peak = scan_peak(folder), scan_peak(sqlite)
    # Before: the scan held a batch of 1,000 rows, here all 20 MB (9.5× the folder's).
    assert sqlite_peak < 2 * folder_peak, (sqlite_peak, folder_peak)
    assert [record.key for record in sqlite.scan()] == [f"k{n:04d}" for n in range(100)]
    sqlite.close()


def test_an_in_memory_database_is_one_database_for_every_thread() -> None:
    for url in ("sqlite:///:memory:", "sqlite://"):
        tracker = SQLResultTracker(url)
        tracker.put("main", x=0)
        failures: list[BaseException] = []

        def work(
            worker: int,
            tracker: SQLResultTracker = tracker,
            failures: list[BaseException] = failures,
        ) -> None:
            try:
                assert tracker.get("main") == {"x": 0}
                for number in range(50):
                    tracker.put(f"t{worker}/k{number}", x=number)
                    assert tracker.get(f"t{worker}/k{number}") == {"x": number}
                list(tracker.scan())
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        assert len(tracker) == 1 + 8 * 50
        assert tracker.get("t7/k49") == {"x": 49}
        tracker.close()


def as_nobody(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a forked child as the unprivileged user ``nobody`` (the
    tests run as root, who may write anything); return what it returned, or the
    text of what it raised."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            os.setgid(65534)
            os.setuid(65534)
            outcome: Any = ("ok", work())
        except BaseException as error:
            outcome = ("error", f"{type(error).__name__}: {error}")
        with os.fdopen(writer, "w") as pipe:
            pipe.write(json.dumps(outcome, default=repr))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


@pytest.fixture
def readable_only(tmp_path: Path) -> Iterator[Path]:
    """A folder (with a WAL database file) that others may read, not write."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a reader as another user")
    folder = Path(tempfile.mkdtemp(prefix="rt-readonly-"))
    folder.chmod(0o755)
    tracker = SQLResultTracker(f"sqlite:///{folder}/results.db")
    tracker.put("a", x=1)
    tracker.put("b/c", x=2)
    tracker.close()
    (folder / "results.db").chmod(0o644)
    yield folder
    shutil.rmtree(folder)


def read_everything(url: str) -> Callable[[], Any]:
    def work() -> Any:
        tracker = SQLResultTracker(url)
        return [tracker.get("a"), sorted(tracker.keys()), len(list(tracker.scan("b")))]

    return work


@pytest.mark.parametrize("uri", [False, True])
def test_a_reader_that_cannot_write_reads_a_wal_database(readable_only: Path, uri: bool) -> None:
    path = readable_only / "results.db"
    url = f"sqlite:///file:{path}?mode=ro&uri=true" if uri else f"sqlite:///{path}"
    assert sorted(os.listdir(readable_only)) == ["results.db"]  # no -wal, no -shm
    assert as_nobody(read_everything(url)) == ["ok", [{"x": 1}, ["a", "b/c"], 1]]
    # While a writer has it open, -wal and -shm exist (and belong to the writer).
    writer = SQLResultTracker(f"sqlite:///{path}")
    writer.put("a", x=10)
    assert sorted(os.listdir(readable_only)) == ["results.db", "results.db-shm", "results.db-wal"]
    assert as_nobody(read_everything(url)) == ["ok", [{"x": 10}, ["a", "b/c"], 1]]
    # The reader cannot write, and says so.
    status, message = as_nobody(lambda: SQLResultTracker(url).put("new", x=1))
    assert status == "error"
    assert message.startswith("StoreError: writing key 'new' failed")
    assert "readonly database" in message
    writer.close()
    assert SQLResultTracker(f"sqlite:///{path}").get("new") == {}


def test_a_reader_without_shm_sees_writes_made_after_it_opened(readable_only: Path) -> None:
    path = readable_only / "results.db"

    def read_before_and_after() -> Any:
        tracker = SQLResultTracker(f"sqlite:///{path}")
        before = tracker.get("a")
        writer_ready.wait(30)  # the parent writes now
        return [before, tracker.get("a"), tracker.get("later")]

    # The child opens the file immutable (no -wal yet); the parent then writes,
    # which creates -wal: the child's next read reconnects and sees the write.
    writer_ready = multiprocessing_event()
    reader, writer_pipe = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        os.setgid(65534)
        os.setuid(65534)
        try:
            outcome: Any = ["ok", read_before_and_after()]
        except BaseException as error:
            outcome = ["error", f"{type(error).__name__}: {error}"]
        with os.fdopen(writer_pipe, "w") as pipe:
            pipe.write(json.dumps(outcome))
        os._exit(0)
    os.close(writer_pipe)
    time.sleep(1)
    writer = SQLResultTracker(f"sqlite:///{path}")
    writer.put("a", x=11)
    writer.put("later", y=1)
    writer_ready.set()
    with os.fdopen(reader) as pipe:
        outcome = json.loads(pipe.read())
    os.waitpid(pid, 0)
    writer.close()
    assert outcome == ["ok", [{"x": 1}, {"x": 11}, {"y": 1}]]


def multiprocessing_event() -> Any:
    return multiprocessing.get_context("fork").Event()


def test_a_user_table_named_like_the_companion_is_refused_and_never_altered(
    sql: SQLHarness,
) -> None:
    engine = sa.create_engine(sql.base)
    companion = f"{sql.table}_schema"
    rows_before = [(1, "mine"), (2, "also mine")]
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {companion} (id INTEGER PRIMARY KEY, note VARCHAR(20))"
        )
        for row in rows_before:
            connection.exec_driver_sql(f"INSERT INTO {companion} VALUES ({row[0]}, '{row[1]}')")
    try:
        for attempt in (
            lambda: sql.new_tracker().put("k", x=1),
            lambda: sql.new_tracker().get("k"),
            lambda: list(sql.new_tracker().scan()),
        ):
            with pytest.raises(StoreError) as caught:
                attempt()
            message = str(caught.value)
            assert f"table {companion!r}" in message
            assert "was not created by resulttracker" in message
            assert "'id', 'note'" in message
            assert "table=" in message
        with engine.connect() as connection:
            columns = [c["name"] for c in sa.inspect(connection).get_columns(companion)]
            rows = connection.exec_driver_sql(f"SELECT id, note FROM {companion} ORDER BY id").all()
        assert columns == ["id", "note"]
        assert [tuple(row) for row in rows] == rows_before
        assert not sa.inspect(engine).has_table(sql.table)  # nothing created beside it
    finally:
        engine.dispose()


def test_a_user_table_with_a_text_version_column_is_refused(sql: SQLHarness) -> None:
    engine = sa.create_engine(sql.base)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {sql.table}_schema (version VARCHAR(10))")
        connection.exec_driver_sql(f"INSERT INTO {sql.table}_schema VALUES ('v2')")
    engine.dispose()
    with pytest.raises(
        StoreError, match=r"was not created by resulttracker \(it holds the version 'v2'\)"
    ):
        sql.new_tracker().put("k", x=1)
    assert sql.raw_names() == set()


# -- issue 14: one round trip per operation -------------------------------------------------


class CountingProxy(FreezingProxy):
    """A loopback proxy that counts the client's requests: each burst of bytes
    the client sends before the server answers is one round trip."""

    def __init__(self, host: str, port: int) -> None:
        self.requests = 0
        super().__init__(host, port)

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        answered = True
        with contextlib.suppress(OSError, ValueError):
            while True:
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and answered:
                        self.requests += 1
                        answered = False
                    elif source is server:
                        answered = True
                    peers[source].sendall(data)


@pytest.mark.parametrize("server", SERVERS)
def test_each_get_put_and_delete_is_one_round_trip(server: str) -> None:
    target = sa.make_url(server_url(server))
    proxy = CountingProxy(target.host or "127.0.0.1", target.port or 0)
    table = unique_table()
    tracker = SQLResultTracker(via(str(target), proxy.port), table=table)
    truth = sa.create_engine(server_url(server))
    try:
        for number in range(10):  # tables made, connection opened, statements prepared
            tracker.put(f"k{number}", x=number)
            tracker.get(f"k{number}")
            tracker.delete(f"gone{number}")
        for operation in (
            lambda n: tracker.get(f"k{n}"),
            lambda n: tracker.get(f"missing{n}"),
            lambda n: tracker.put(f"k{n}", x=-n),
            lambda n: tracker.delete(f"k{n}"),
        ):
            before = proxy.requests
            for number in range(10):
                operation(number)
            time.sleep(0.1)
            # Before: BEGIN, the statement and COMMIT (PostgreSQL), or the
            # statement and COMMIT (MariaDB), for each.
            assert proxy.requests - before == 10
        tracker.put("k0", x=0)
        before = proxy.requests
        found = tracker.get_many([f"k{n}" for n in range(10)])
        assert found == {"k0": {"x": 0}, **{f"k{n}": {} for n in range(1, 10)}}
        assert proxy.requests - before == 1  # one query for the ten keys
        before = proxy.requests
        assert len(list(tracker.scan())) == 1
        assert proxy.requests - before <= 2  # the batch (and the exact-key query of a prefix)
    finally:
        tracker.close()
        proxy.close()
        drop_tables(truth, table)
        truth.dispose()


def test_each_sqlite_get_and_put_is_one_statement(tmp_path: Path) -> None:
    tracker = SQLResultTracker(f"sqlite:///{tmp_path}/one.db")
    statements: list[str] = []
    sa.event.listen(
        tracker._engine,
        "connect",
        lambda connection, _record: connection.set_trace_callback(statements.append),
    )
    tracker.put("warm", x=0)
    statements.clear()
    tracker.put("k", x=1)
    assert tracker.get("k") == {"x": 1}
    assert tracker.get("missing") == {}
    assert [statement.split()[0] for statement in statements] == ["INSERT", "SELECT", "SELECT"]
    tracker.close()


def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    tmp_path: Path,
) -> None:
    harness = next(sql_store("postgres", tmp_path))
    name = f"rt-kill-{unique_table()}"
    tracker = SQLResultTracker(
        harness.base, table=harness.table, connect_args={"application_name": name}
    )
    truth = sa.create_engine(harness.base)
    try:
        tracker.put("k", x=1)
        with truth.connect() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar()
        assert killed >= 1
        assert tracker.get("k") == {"x": 1}  # one fresh try on a new connection
        tracker.put("k", x=2)
        assert harness.raw_read("k") == b'{\n  "x": 2\n}'
    finally:
        tracker.close()
        harness.close()
        drop_tables(truth, harness.table)
        truth.dispose()


def test_more_threads_than_connections_share_the_pool(sql: SQLHarness) -> None:
    tracker = SQLResultTracker(sql.base, table=sql.table, pool_size=2, max_overflow=0)
    sql.opened.append(tracker)
    tracker.put("start", x=0)
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for number in range(20):
                tracker.put(f"t{worker}/k{number}", x=number)
                assert tracker.get(f"t{worker}/k{number}") == {"x": number}
            assert len(list(tracker.scan(f"t{worker}"))) == 20
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(sql.raw_names()) == 1 + 24 * 20
    assert tracker._pool._made <= 2  # never more connections than allowed
