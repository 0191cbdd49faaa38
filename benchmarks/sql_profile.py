"""Where the time of a SQLite ``get`` and ``scan`` goes, beside the raw driver.

Run from the repository root:

    .venv/bin/python benchmarks/sql_profile.py            # 2,000 keys
    .venv/bin/python benchmarks/sql_profile.py --keys 10000

Prints (1) a table of the steps of one ``get`` (``timeit``, best of 9) next to
the raw floor of ``run.py`` (bare ``sqlite3``: execute, fetchone, ``json.loads``)
and (2) a cProfile of loading every key with ``scan``, sorted by own time, so
that a miss of issue 14's targets can be read off: what the SQL layer costs and
what the shared layers (validation, codec, records) cost.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sqlite3
import tempfile
import timeit
from typing import Any

from run import key_for, results_for

from resulttracker import codec
from resulttracker.backends.sql import SQLResultTracker, _fetch_one
from resulttracker.model import Record
from resulttracker.validation import normalize_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=2000, help="keys in the table")
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="rt-sql-profile-")
    tracker = SQLResultTracker(f"sqlite:///{folder}/results.db")
    for index in range(options.keys):
        tracker.put(key_for(index), **results_for(index))
    raw = sqlite3.connect(f"{folder}/results.db", isolation_level=None)
    cursor = raw.cursor()
    key = key_for(1)
    document = tracker._read(key)
    assert document is not None
    text = document.decode()
    statement = tracker._sql.read_sql
    pooled = tracker._pool.take()
    tracker._pool.give(pooled)
    names: dict[str, Any] = {
        "cursor": cursor,
        "json": json,
        "key": key,
        "tracker": tracker,
        "normalize_key": normalize_key,
        "codec": codec,
        "document": document,
        "text": text,
        "statement": statement,
        "fetch_one": _fetch_one,
        "own_cursor": pooled.cursor,
        "Record": Record,
    }
    steps = [
        (
            "raw floor get: execute + fetchone + json.loads",
            "cursor.execute('SELECT document FROM results WHERE key = ?', (key,)); "
            "json.loads(cursor.fetchone()[0])",
        ),
        ("tracker.get", "tracker.get(key)"),
        ("normalize_key (validation.py)", "normalize_key(key)"),
        ("codec.decode", "codec.decode(document, key='k', location='')"),
        ("json.loads alone", "json.loads(text)"),
        (
            "_execute of the read (pool, retries, statement)",
            "tracker._execute('r', key, fetch_one, statement, (key,))",
        ),
        (
            "bare execute + fetchone on the tracker's connection",
            "fetch_one(own_cursor, statement, (key,))",
        ),
        ("Record(key, results, modified)", "Record('k', {}, None)"),
    ]
    print("| step | µs |\n|---|---:|")
    for label, code in steps:
        best = min(timeit.repeat(code, number=20_000, repeat=9, globals=names)) / 20_000
        print(f"| {label} | {best * 1e6:.2f} |")

    def load() -> dict[str, Any]:
        return {record.key: record.results for record in tracker.scan()}

    load()
    profile = cProfile.Profile()
    profile.runcall(lambda: [load() for _ in range(10)])
    print(f"\nscan of {options.keys} keys, 10 times, by own time:")
    pstats.Stats(profile).sort_stats("tottime").print_stats(14)
    tracker.close()


if __name__ == "__main__":
    main()
