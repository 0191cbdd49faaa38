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
