"""Scale of the reliability suite (full under CI, lighter locally) and the stores
that many processes share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import _harness, s3_options

FULL = bool(os.environ.get("CI"))


def scale(full: int, light: int) -> int:
    """``full`` under CI (``CI`` set), ``light`` otherwise."""
    return full if FULL else light


def scale_for(base: str, full: int, light: int) -> int:
    """:func:`scale`, with a third of ``full`` on the GCS and Azure emulators: each
    is one process that every writer shares (at full scale they alone would add
    minutes to CI)."""
    return scale(full // 3 if base.startswith(("gs://", "az://")) else full, light)


@pytest.fixture(params=["local", "s3", "gcs", "azure", "sqlite", "postgres", "mariadb"])
def shared_base(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(url, options)`` of an empty store that child processes open with
    ``open_tracker(url, **options)``."""
    if request.param == "local":
        yield str(tmp_path / "base"), {}
    elif request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket, _ = request.getfixturevalue("s3_bucket")
        yield f"s3://{bucket}/base", s3_options(endpoint)
    elif request.param in ("gcs", "azure"):
        harness = next(_harness(request, tmp_path, request.param))
        yield harness.base, harness.options
    else:
        import sqlalchemy as sa

        from ..sql_harness import drop_tables, server_url, unique_table

        name = request.param
        url = f"sqlite:///{tmp_path}/results.db" if name == "sqlite" else server_url(name)
        table = unique_table()
        yield url, {"table": table}
        engine = sa.create_engine(url)
        drop_tables(engine, table)
        engine.dispose()


#: operation_timeout of the fault tests (the default is 60 s), and the time to notice
#: the deadline (fsspec checks about once a second) and clean up.
FAULT_TIMEOUT = 4.0
FAULT_SLACK = 3.0


def check_a_stopped_endpoint_mid_scan(
    tracker: Any,
    stop: Any,
    start: Any,
    location: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint behind ``tracker`` stops between two batches of a scan: the scan
    ends within the deadline in a ``StoreError`` naming the batch and ``location``
    (a regular expression), and the same tracker works again once it restarts."""
    import time

    import resulttracker.backends.remote as remote_backend
    import resulttracker.snapshot as snapshot_module
    from resulttracker import StoreError

    for number in range(30):
        tracker[f"k{number:02d}"] = {"n": number}
    # Batches of 10, in a plain scan and in one that lists versions first.
    monkeypatch.setattr(remote_backend, "BATCH_SIZE", 10)
    monkeypatch.setattr(snapshot_module, "BATCH_SIZE", 10)
    records = tracker.scan()
    assert next(records).key == "k00"  # the first batch is in
    stop()
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"reading 10 keys on '{location}'"):
        list(records)
    assert time.monotonic() - started < FAULT_TIMEOUT + FAULT_SLACK
    start()
    assert [record.results["n"] for record in tracker.scan()] == list(range(30))
    tracker["after"] = {"ok": True}
    assert tracker["after"] == {"ok": True}
