"""The contestants of ``run.py``: every store behind one small interface.

A contestant stores ``{name: number}`` results under string keys and offers
three operations, the ones the workloads time:

* ``put(key, results)`` - what a job does once at its end;
* ``get(key)`` - read one key back (``{}`` if absent);
* ``load_all()`` - list and read every key into ``{key: results}``.

``wait(key, timeout, poll_interval)`` defaults to polling ``get``; trackers with
their own ``wait`` use it. A contestant is built by a :class:`Spec` from a
store location (a local folder, or an S3 URL plus options), so worker processes
can rebuild it from plain, picklable arguments.

Adding a backend is a few lines: write a subclass of :class:`Contestant` (or
reuse :class:`TrackerContestant` for anything with the resulttracker API) and
append a :class:`Spec` to :func:`all_specs`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

Results = dict[str, Any]


class UnavailableError(Exception):
    """The contestant's package is not installed (the reason is the message)."""


class Contestant:
    """A store under test. Subclasses implement ``put``, ``get`` and ``load_all``."""

    def put(self, key: str, results: Results) -> None:
        raise NotImplementedError

    def get(self, key: str) -> Results:
        raise NotImplementedError

    def load_all(self) -> dict[str, Results]:
        raise NotImplementedError

    def wait(self, key: str, *, timeout: float, poll_interval: float) -> Results:
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(key)
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(key)
            time.sleep(poll_interval)

    def close(self) -> None:
        """Release connections; the default has none."""


@dataclass(frozen=True)
class Spec:
    """How to build one contestant.

    Attributes
    ----------
    name : str
        Column name in the tables.
    ours : bool
        A resulttracker backend: the targets are checked against it.
    local : callable or None
        ``local(folder) -> Contestant``; ``None`` if it cannot store locally.
    s3 : callable or None
        ``s3(url, options) -> Contestant`` for an ``s3://bucket/prefix`` URL.
    shares_files : bool
        Stores one torchx-format JSON file per key under the folder, so a store
        filled once can be read by every such contestant (and filled quickly).
    note : str
        Caveat printed under the tables.
    """

    name: str
    ours: bool = False
    local: Callable[[str], Contestant] | None = None
    s3: Callable[[str, dict[str, Any]], Contestant] | None = None
    shares_files: bool = False
    note: str = ""
    requires: tuple[str, ...] = field(default=())

    def check(self) -> None:
        """Raise :class:`UnavailableError` if a required module cannot be imported."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise UnavailableError(f"{module} not installed ({error.msg})") from None


# -- resulttracker (and any tracker with its API) -------------------------------------------


class TrackerContestant(Contestant):
    """Anything with the resulttracker API: ``put``, ``get``, ``scan``, ``wait``."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def put(self, key: str, results: Results) -> None:
        self.tracker.put(key, **results)

    def get(self, key: str) -> Results:
        return dict(self.tracker.get(key))

    def load_all(self) -> dict[str, Results]:
        return {record.key: record.results for record in self.tracker.scan()}

    def wait(self, key: str, *, timeout: float, poll_interval: float) -> Results:
        return dict(self.tracker.wait(key, timeout=timeout, poll_interval=poll_interval))

    def close(self) -> None:
        close = getattr(self.tracker, "close", None)
        if close is not None:
            close()


def _resulttracker_local(folder: str) -> Contestant:
    from resulttracker import FsspecResultTracker

    return TrackerContestant(FsspecResultTracker(folder))


def _resulttracker_s3(url: str, options: dict[str, Any]) -> Contestant:
    from resulttracker import FsspecResultTracker

    return TrackerContestant(FsspecResultTracker(url, **options))


def _resulttracker_sql(folder: str) -> Contestant:
    from resulttracker.backends.sql import SQLResultTracker

    return TrackerContestant(SQLResultTracker(f"sqlite:///{folder}/results.sqlite3"))


#: Database servers the SQL backend is measured on (the test suite's defaults).
SQL_SERVERS = {
    "postgres": os.environ.get(
        "RESULTTRACKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "RESULTTRACKER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
}
BENCH_TABLE_PREFIX = "rtbench_"


def _resulttracker_server(server: str) -> Callable[[str], Contestant]:
    def build(folder: str) -> Contestant:
        from resulttracker.backends.sql import SQLResultTracker

        # Each benchmark store is a table named after its scratch folder, so that
        # worker processes opening the same "folder" find the same table.
        table = BENCH_TABLE_PREFIX + hashlib.sha1(folder.encode()).hexdigest()[:16]
        tracker = SQLResultTracker(SQL_SERVERS[server], table=table)
        tracker.get("probe")  # an unreachable server makes the contestant unavailable
        return TrackerContestant(tracker)

    return build


def drop_benchmark_tables() -> None:
    """Drop the tables the server contestants created (they outlive the scratch folder)."""
    try:
        import sqlalchemy as sa
    except ImportError:
        return
    for url in SQL_SERVERS.values():
        try:
            engine = sa.create_engine(url)
            with engine.begin() as connection:
                for name in sa.inspect(connection).get_table_names():
                    if name.startswith(BENCH_TABLE_PREFIX):
                        connection.execute(sa.text(f"DROP TABLE {name}"))
            engine.dispose()
        except Exception:
            continue


# -- the SQL raw floor: the bare DB-API driver on a plain table of the same shape ---------------


class RawSQL(Contestant):
    """The least a program does with the bare driver (sqlite3, psycopg, PyMySQL)
    on a table shaped like resulttracker's (key, document text, modified time):
    autocommit, one statement per operation, ``json.dumps(indent=2)`` /
    ``json.loads`` of the stored text. SQLite runs in WAL mode with the driver's
    default durability, as resulttracker's SQLite tracker does.
    """

    def __init__(self, kind: str, connection: Any, table: str) -> None:
        self.kind = kind
        self.connection = connection
        mark = "?" if kind == "sqlite" else "%s"
        quote = "`" if kind == "mariadb" else '"'
        key = f"{quote}key{quote}"
        if kind == "mariadb":
            key_type, time_type, text_type = "VARBINARY(1024)", "DATETIME(6)", "LONGTEXT"
            upsert_tail = (
                "ON DUPLICATE KEY UPDATE document = VALUES(document), modified = VALUES(modified)"
            )
        else:
            key_type = 'VARCHAR(1024) COLLATE "C"' if kind == "postgres" else "VARCHAR(1024)"
            time_type = "TIMESTAMP WITH TIME ZONE" if kind == "postgres" else "DATETIME"
            text_type = "TEXT"
            upsert_tail = (
                f"ON CONFLICT ({key}) DO UPDATE SET document = excluded.document, "
                "modified = excluded.modified"
            )
        columns = (
            f"{key} {key_type} PRIMARY KEY, document {text_type} NOT NULL, "
            f"modified {time_type} NOT NULL"
        )
        cursor = connection.cursor()
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        cursor.close()
        self._get = f"SELECT document FROM {table} WHERE {key} = {mark}"
        self._put = (
            f"INSERT INTO {table} ({key}, document, modified) "
            f"VALUES ({mark}, {mark}, {mark}) {upsert_tail}"
        )
        self._all = f"SELECT {key}, document FROM {table} ORDER BY {key}"
        self._key = (lambda key: key.encode()) if kind == "mariadb" else (lambda key: key)
        self._now: Callable[[], Any] = (
            (lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
            if kind == "sqlite"
            else (lambda: datetime.now(timezone.utc))
            if kind == "postgres"
            else (lambda: datetime.now(timezone.utc).replace(tzinfo=None))
        )
        self._cursor = connection.cursor()

    def put(self, key: str, results: Results) -> None:
        document = json.dumps(results, indent=2)
        self._cursor.execute(self._put, (self._key(key), document, self._now()))

    def get(self, key: str) -> Results:
        cursor = self._cursor
        cursor.execute(self._get, (self._key(key),))
        row = cursor.fetchone()
        if row is None:
            return {}
        results: Results = json.loads(row[0])
        return results

    def load_all(self) -> dict[str, Results]:
        cursor = self.connection.cursor()
        cursor.execute(self._all)
        loads = json.loads
        if self.kind == "mariadb":
            loaded = {key.decode(): loads(document) for key, document in cursor}
        else:
            loaded = {key: loads(document) for key, document in cursor}
        cursor.close()
        return loaded

    def close(self) -> None:
        self.connection.close()


def _raw_sqlite(folder: str) -> Contestant:
    import sqlite3

    os.makedirs(folder, exist_ok=True)
    connection = sqlite3.connect(f"{folder}/raw.sqlite3", isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    return RawSQL("sqlite", connection, "results")


def _raw_server(server: str) -> Callable[[str], Contestant]:
    def build(folder: str) -> Contestant:
        import sqlalchemy as sa

        url = sa.make_url(SQL_SERVERS[server])
        table = BENCH_TABLE_PREFIX + "raw_" + hashlib.sha1(folder.encode()).hexdigest()[:16]
        if server == "postgres":
            import psycopg

            connection: Any = psycopg.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password or "",
                dbname=url.database,
                autocommit=True,
            )
        else:
            import pymysql

            connection = pymysql.connect(
                host=url.host,
                port=url.port or 3306,
                user=url.username,
                password=url.password or "",
                database=url.database,
                autocommit=True,
                charset="utf8mb4",
            )
        return RawSQL(server, connection, table)

    return build


# -- torchx 0.7.0, the seed implementation ----------------------------------------------------


class TorchxContestant(Contestant):
    """``torchx.runtime.tracking.FsspecResultTracker``.

    torchx cannot list keys, so ``load_all`` is the get loop a caller who knows
    its keys would write: it is given the key list for free (its best case).
    """

    def __init__(self, base: str, keys: Callable[[], list[str]]) -> None:
        from torchx.runtime.tracking import FsspecResultTracker

        self.tracker = FsspecResultTracker(base)
        self._keys = keys

    def put(self, key: str, results: Results) -> None:
        self.tracker.put(key, **results)

    def get(self, key: str) -> Results:
        return dict(self.tracker.get(key))

    def load_all(self) -> dict[str, Results]:
        get = self.tracker.get
        return {key: get(key) for key in self._keys()}


def _torchx_local(folder: str) -> Contestant:
    # torchx has no listing: the keys are listed when the contestant is built
    # (untimed), as a caller that already knows its keys would have them.
    known = sorted(entry.name for entry in os.scandir(folder)) if os.path.isdir(folder) else []
    return TorchxContestant(folder, lambda: known)


def _torchx_s3(url: str, options: dict[str, Any]) -> Contestant:
    import fsspec

    # torchx takes no storage options: give them to fsspec's per-protocol config,
    # which every s3fs instance torchx creates picks up.
    fsspec.config.conf["s3"] = dict(options)
    fs = fsspec.filesystem("s3", **options)
    root = url.removeprefix("s3://").rstrip("/")
    fs.invalidate_cache()
    known = sorted(path[len(root) + 1 :] for path in fs.find(root))
    return TorchxContestant(url, lambda: known)


# -- the raw floor -----------------------------------------------------------------------------


class RawLocal(Contestant):
    """The least plain Python does for a durable, atomic one-file-per-key store."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self._counter = 0

    def put(self, key: str, results: Results) -> None:
        path = os.path.join(self.folder, key)
        self._counter += 1
        temporary = f"{self.folder}/.tmp-{os.getpid()}-{self._counter}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(fd, json.dumps(results, indent=2).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        folder_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)

    def get(self, key: str) -> Results:
        try:
            with open(os.path.join(self.folder, key), "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return {}
        results: Results = json.loads(data)
        return results

    def load_all(self) -> dict[str, Results]:
        loaded = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                with open(entry.path, "rb") as file:
                    loaded[entry.name] = json.loads(file.read())
        return loaded


class RawS3(Contestant):
    """fsspec's own calls: ``pipe_file``, ``cat_file``, ``find`` + batched ``cat``."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        import fsspec

        self.fs = fsspec.filesystem("s3", **options)
        self.root = url.removeprefix("s3://").rstrip("/")

    def put(self, key: str, results: Results) -> None:
        self.fs.pipe_file(f"{self.root}/{key}", json.dumps(results, indent=2).encode())

    def get(self, key: str) -> Results:
        try:
            data = self.fs.cat_file(f"{self.root}/{key}")
        except FileNotFoundError:
            return {}
        results: Results = json.loads(data)
        return results

    def load_all(self) -> dict[str, Results]:
        self.fs.invalidate_cache(self.root)
        paths = self.fs.find(self.root)
        skip = len(self.root) + 1
        return {path[skip:]: json.loads(data) for path, data in self.fs.cat(paths).items()}


# -- MLflow with its SQLite tracking store ---------------------------------------------------


class MlflowContestant(Contestant):
    """One run per key (the key is the run name), results as metrics.

    ``get`` uses the run id remembered at ``put`` (its best case) and falls back
    to a ``search_runs`` by run name, as another process must.
    """

    def __init__(self, folder: str) -> None:
        import logging

        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        os.makedirs(folder, exist_ok=True)
        self.client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
        experiment = self.client.get_experiment_by_name("bench")
        if experiment is None:
            try:
                self.experiment_id = self.client.create_experiment(
                    "bench", artifact_location=f"{folder}/artifacts"
                )
            except Exception:  # another worker created it first
                self.experiment_id = self.client.get_experiment_by_name("bench").experiment_id
        else:
            self.experiment_id = experiment.experiment_id
        self._run_ids: dict[str, str] = {}

    def put(self, key: str, results: Results) -> None:
        from mlflow.entities import Metric

        run = self.client.create_run(self.experiment_id, run_name=key)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(name, float(value), now, 0) for name, value in results.items()]
        self.client.log_batch(run_id, metrics=metrics)
        self.client.set_terminated(run_id)
        self._run_ids[key] = run_id

    def get(self, key: str) -> Results:
        run_id = self._run_ids.get(key)
        if run_id is not None:
            return dict(self.client.get_run(run_id).data.metrics)
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"attributes.run_name = '{key}'", max_results=1
        )
        return dict(runs[0].data.metrics) if runs else {}

    def load_all(self) -> dict[str, Results]:
        loaded: dict[str, Results] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], max_results=50_000, page_token=token
            )
            for run in page:
                loaded[run.info.run_name] = dict(run.data.metrics)
            token = page.token
            if not token:
                return loaded


# -- Optuna: RDB (SQLite) and Journal file storages -------------------------------------------

_KEY_ATTR = "__key__"


class OptunaContestant(Contestant):
    """One finished trial per key: results as user attributes, ``loss`` as its value.

    A put is one storage call (``create_new_trial`` with a finished template
    trial). ``get`` reads the trial whose id was remembered at ``put`` (its best
    case), else searches ``get_trials``; ``load_all`` is ``get_trials``.
    """

    def __init__(self, storage: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self._optuna = optuna
        self.study = optuna.create_study(
            storage=storage, study_name="bench", load_if_exists=True, direction="minimize"
        )
        self.storage = self.study._storage
        self._trial_ids: dict[str, int] = {}

    def put(self, key: str, results: Results) -> None:
        trial = self._optuna.trial.create_trial(
            value=float(results.get("loss", 0.0)), user_attrs={_KEY_ATTR: key, **results}
        )
        self._trial_ids[key] = self.storage.create_new_trial(self.study._study_id, trial)

    @staticmethod
    def _results(trial: Any) -> Results:
        return {name: value for name, value in trial.user_attrs.items() if name != _KEY_ATTR}

    def get(self, key: str) -> Results:
        trial_id = self._trial_ids.get(key)
        if trial_id is not None:
            return self._results(self.storage.get_trial(trial_id))
        for trial in self.study.get_trials(deepcopy=False):
            if trial.user_attrs.get(_KEY_ATTR) == key:
                return self._results(trial)
        return {}

    def load_all(self) -> dict[str, Results]:
        return {
            trial.user_attrs[_KEY_ATTR]: self._results(trial)
            for trial in self.study.get_trials(deepcopy=False)
        }


def _optuna_rdb(folder: str) -> Contestant:
    import optuna

    os.makedirs(folder, exist_ok=True)
    return OptunaContestant(optuna.storages.RDBStorage(f"sqlite:///{folder}/optuna.db"))


def _optuna_journal(folder: str) -> Contestant:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    os.makedirs(folder, exist_ok=True)
    backend = JournalFileBackend(f"{folder}/optuna.log")
    return OptunaContestant(optuna.storages.JournalStorage(backend))


# -- the list ----------------------------------------------------------------------------------


def all_specs() -> list[Spec]:
    """Every contestant, ours first. UnavailableError ones are reported, not run."""
    return [
        Spec(
            "resulttracker",
            ours=True,
            local=_resulttracker_local,
            s3=_resulttracker_s3,
            shares_files=True,
            requires=("resulttracker",),
        ),
        Spec(
            "resulttracker-sql",
            ours=True,
            local=_resulttracker_sql,
            requires=("resulttracker.backends.sql",),
            note="SQLResultTracker on SQLite (WAL).",
        ),
        Spec(
            "resulttracker-postgres",
            ours=True,
            local=_resulttracker_server("postgres"),
            requires=("resulttracker.backends.sql", "psycopg"),
            note="SQLResultTracker on the local PostgreSQL server.",
        ),
        Spec(
            "resulttracker-mariadb",
            ours=True,
            local=_resulttracker_server("mariadb"),
            requires=("resulttracker.backends.sql", "pymysql"),
            note="SQLResultTracker on the local MariaDB server.",
        ),
        *sql_floor_specs(),
        Spec(
            "raw",
            local=RawLocal,
            s3=RawS3,
            shares_files=True,
            note="the floor: plain os/json calls (local) and plain fsspec calls (S3).",
        ),
        Spec(
            "torchx",
            local=_torchx_local,
            s3=_torchx_s3,
            shares_files=True,
            requires=("torchx.runtime.tracking",),
            note="torchx 0.7.0: no fsync, no atomic rename, no listing "
            "(its load is a get loop over keys handed to it).",
        ),
        Spec(
            "mlflow",
            local=MlflowContestant,
            requires=("mlflow",),
            note="MLflow SQLite store: one run per key, metrics; reads via search_runs.",
        ),
        Spec(
            "optuna-rdb",
            local=_optuna_rdb,
            requires=("optuna", "sqlalchemy"),
            note="Optuna RDBStorage on SQLite: one trial per key, user attrs; get_trials.",
        ),
        Spec(
            "optuna-journal",
            local=_optuna_journal,
            requires=("optuna",),
            note="Optuna JournalStorage on a file (fsync per write): one trial per key.",
        ),
    ]


def sql_floor_specs() -> list[Spec]:
    """The bare drivers beside resulttracker's SQL trackers (issue 14's floor)."""
    return [
        Spec(
            "raw-sqlite",
            local=_raw_sqlite,
            requires=("sqlite3",),
            note="the SQLite floor: bare sqlite3, autocommit, WAL, one statement per operation.",
        ),
        Spec(
            "raw-postgres",
            local=_raw_server("postgres"),
            requires=("psycopg", "sqlalchemy"),
            note="the PostgreSQL floor: bare psycopg, autocommit, one statement per operation.",
        ),
        Spec(
            "raw-mariadb",
            local=_raw_server("mariadb"),
            requires=("pymysql", "sqlalchemy"),
            note="the MariaDB floor: bare PyMySQL, autocommit, one statement per operation.",
        ),
    ]


def spec_named(name: str) -> Spec:
    for spec in all_specs():
        if spec.name == name:
            return spec
    raise KeyError(name)
