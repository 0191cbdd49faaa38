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


# -- documents that cannot be decoded safely, through every entry point (issue 12, item 6) --

HOSTILE = {
    "deep": b"[" * 100_000,
    "huge int": b'{"loss": ' + b"9" * 5000 + b"}",
    "overflow": b'{"loss": 1e400}',
    "surrogate": rb'{"loss": 1, "note": "\ud800"}',
    "many lists": b'{"loss": [' + b",".join([b"[]"] * 100_001) + b"]}",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_entry_point_reports_the_key_and_goes_on(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from click.testing import CliRunner

    from resulttracker import cli, copy, stats

    tracker = FsspecResultTracker(tmp_path / "base")
    tracker.put("a", loss=1.0)
    (tmp_path / "base" / "b").write_bytes(HOSTILE[name])
    tracker.put("c", loss=3.0)
    for attempt in (
        lambda: tracker.get("b"),
        lambda: tracker.get_many(["a", "b"]),
        lambda: list(tracker.scan()),
        lambda: list(tracker.select(where="loss > 0")),
        lambda: tracker.best("loss"),
        lambda: stats.aggregate(tracker.scan(), by=1),
        lambda: tracker.export(tmp_path / "out.csv"),
        lambda: tracker.wait("b", timeout=0),
    ):
        with pytest.raises(CorruptResultError, match="key 'b'"):
            attempt()
    assert not (tmp_path / "out.csv").exists()
    with caplog.at_level("WARNING", logger="resulttracker"):
        assert [record.key for record in tracker.scan(on_corrupt="skip")] == ["a", "c"]
    assert [error.key for error in tracker.check().corrupt] == ["b"]
    report = copy(tracker, FsspecResultTracker(tmp_path / "copy"))
    assert (report.copied, report.corrupt) == (2, ["b"])
    for arguments in (["show"], ["get", "b"], ["best", "loss"], ["check"]):
        result = CliRunner().invoke(cli.cli, ["-b", str(tmp_path / "base"), *arguments])
        assert result.exit_code == 1, (arguments, result.output)
        assert "key 'b'" in result.stderr or '"key": "b"' in result.stdout
        assert "Traceback" not in result.output
