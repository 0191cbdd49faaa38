"""Corrupt stored data is reported, never returned as results; huge files are not read whole."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from resulttracker import CorruptResultError, FsspecResultTracker
from resulttracker.codec import MAX_DOCUMENT_BYTES

from ..conftest import StoreHarness


def test_a_100_mb_local_file_is_refused_after_reading_at_most_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = FsspecResultTracker(tmp_path)
    with open(tmp_path / "huge", "wb") as file:
        file.truncate(100 * 1024 * 1024)
    read_sizes: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read_sizes.append(len(data))
        return data

    monkeypatch.setattr(os, "read", counting_read)
    message = re.escape(f"over the {MAX_DOCUMENT_BYTES}-byte limit")
    with pytest.raises(CorruptResultError, match=message) as caught:
        tracker.get("huge")
    assert caught.value.key == "huge"
    assert sum(read_sizes) <= MAX_DOCUMENT_BYTES + 1
    with pytest.raises(CorruptResultError, match="'huge'"):
        list(tracker.scan())


def test_an_oversized_object_is_refused_on_every_store(store: StoreHarness) -> None:
    document = b"{" + b" " * (MAX_DOCUMENT_BYTES + 10) + b"}"
    if store.name == "mariadb":
        # The server's max_allowed_packet (16 MiB) refuses such a row outright:
        # an oversized document cannot exist there to be read.
        import sqlalchemy.exc

        with pytest.raises(sqlalchemy.exc.OperationalError, match=r"gone away|packet"):
            store.raw_write("big", document)
        return
    store.raw_write("big", document)
    with pytest.raises(CorruptResultError, match=r"key 'big'.*-byte limit"):
        store.tracker.get("big")
    with pytest.raises(CorruptResultError, match=r"key 'big'.*-byte limit"):
        store.tracker.get_many(["big"])
