"""Local-folder specifics: atomic durable writes, permissions, key conflicts."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resulttracker import CorruptResultError, FsspecResultTracker, KeyConflictError, StoreError
from resulttracker.codec import MAX_DOCUMENT_BYTES
from resulttracker.validation import TEMP_PREFIX


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_put_leaves_exactly_one_file_per_key(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["exp/1"] = {"x": 1}
    tracker["exp/1"] = {"x": 2}
    tracker["exp/2"] = {"x": 3}
    assert files_under(tmp_path) == {"exp/1", "exp/2"}


def test_a_key_s3fs_would_read_as_an_object_version_is_an_ordinary_key(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["q?versionId=1"] = {"x": 1}
    assert files_under(tmp_path) == {"q?versionId=1"}
    assert tracker["q?versionId=1"] == {"x": 1}


def test_files_are_readable_by_others_according_to_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        FsspecResultTracker(tmp_path)["a/b"] = {"x": 1}
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755


def test_every_write_is_fsynced_file_then_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    tracker = FsspecResultTracker(tmp_path)
    tracker["first"] = {"x": 1}  # the base folder exists from here on
    monkeypatch.setattr(os, "fsync", recording_fsync)
    tracker["first"] = {"x": 2}
    assert synced == ["file", "folder"]
    synced.clear()
    tracker["new/folder/key"] = {"x": 1}
    # The file, each new folder's entry in its parent, and the file's folder.
    assert synced == ["folder", "folder", "file", "folder"]


def test_a_failed_write_keeps_the_old_value_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["k"] = {"old": 1}

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "injected I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="injected I/O error"):
        tracker["k"] = {"new": 2}
    with pytest.raises(OSError, match="injected I/O error"):
        tracker["other"] = {"new": 2}
    monkeypatch.undo()
    assert tracker["k"] == {"old": 1}
    assert files_under(tmp_path) == {"k"}


def test_stray_temporary_files_are_not_keys(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["exp/1"] = {"x": 1}
    (tmp_path / "exp" / f"{TEMP_PREFIX}123-abc").write_bytes(b'{"x": ')
    (tmp_path / f"{TEMP_PREFIX}9-ff").write_bytes(b"")
    assert list(tracker.keys()) == ["exp/1"]
    assert [record.key for record in tracker.scan()] == ["exp/1"]
    assert len(tracker) == 1
    report = tracker.check()
    assert report.checked == 1
    assert sorted(report.temporary_files) == sorted(
        [f"{tmp_path}/exp/{TEMP_PREFIX}123-abc", f"{tmp_path}/{TEMP_PREFIX}9-ff"]
    )
    assert not report.ok
    assert tracker.check(fix=True).removed == []  # too young: may be a put in progress
    fixed = tracker.check(fix=True, min_age=0)
    assert sorted(fixed.removed) == sorted(report.temporary_files)
    assert fixed.ok
    assert files_under(tmp_path) == {"exp/1"}
    assert tracker.check().ok


def test_a_key_cannot_be_both_file_and_folder(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["a"] = {"x": 1}
    with pytest.raises(KeyConflictError, match=r"key 'a/b'.*the key 'a' holds results") as caught:
        tracker["a/b"] = {"x": 2}
    assert isinstance(caught.value, FileExistsError)
    with pytest.raises(KeyConflictError, match="key 'a/b/c'"):
        tracker["a/b/c"] = {"x": 2}
    tracker["d/e"] = {"x": 3}
    with pytest.raises(KeyConflictError, match=r"key 'd'.*folder holding other keys"):
        tracker["d"] = {"x": 4}
    assert files_under(tmp_path) == {"a", "d/e"}
    assert tracker["a/b"] == {}
    assert tracker["d"] == {}


def test_delete_removes_emptied_folders_but_not_the_base(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["a/b/c"] = {"x": 1}
    tracker["a/d"] = {"x": 1}
    assert tracker.delete("a/b/c")
    assert not (base / "a" / "b").exists()
    assert (base / "a").is_dir()
    assert tracker.delete("a/d")
    assert base.is_dir()
    assert list(base.iterdir()) == []
    tracker["a/b/c"] = {"x": 2}  # folders come back on the next write
    assert tracker["a/b/c"] == {"x": 2}


def test_relative_base_is_fixed_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = FsspecResultTracker("results")
    monkeypatch.chdir("/")
    tracker["k"] = {"x": 1}
    assert (tmp_path / "results" / "k").is_file()
    assert repr(tracker) == "FsspecResultTracker('results')"


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    with open(tmp_path / "huge", "wb") as file:
        file.truncate(MAX_DOCUMENT_BYTES * 6)  # a sparse 96 MiB file
    with pytest.raises(CorruptResultError, match=r"key 'huge'.*over the .*-byte limit"):
        tracker.get("huge")


def test_folders_and_keys_under_a_file_are_not_results(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["a/b"] = {"x": 1}
    assert tracker.get("a") == {}  # a folder
    assert tracker.get("a/b/c") == {}  # below a file
    assert tracker.delete("a") is False
    assert tracker.delete("a/b/c") is False


def test_tracker_base_is_a_keyword_too_as_in_torchx(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tracker_base=str(tmp_path / "kw"))
    tracker["k"] = {"x": 1}
    assert tracker.tracker_base == str(tmp_path / "kw")
    assert FsspecResultTracker(str(tmp_path / "kw"))["k"] == {"x": 1}
    with pytest.raises(TypeError):
        FsspecResultTracker()  # type: ignore[call-arg]


def test_a_base_that_is_a_file_reads_empty_and_refuses_writes(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"not a folder")
    for base in (tmp_path / "file", tmp_path / "file" / "below"):
        tracker = FsspecResultTracker(base)
        assert tracker.get("k") == {}
        assert tracker.get("a/b/c") == {}
        assert tracker.get_many(["k", "a/b"]) == {"k": {}, "a/b": {}}
        assert list(tracker.scan()) == []
        assert tracker.delete("a/b") is False
        for key in ("k", "a/b"):
            with pytest.raises(StoreError, match=rf"key '{key}'.*{base} is not a folder"):
                tracker[key] = {"x": 1}
    assert (tmp_path / "file").read_bytes() == b"not a folder"


# Names that sort just around '/' (0x2F): the depth-first scan must still give keys
# in plain sorted order.
_SEGMENT = st.text(alphabet=" !+,-.0a\u00e9", min_size=1, max_size=3).filter(
    lambda text: text not in (".", "..") and not text.startswith(TEMP_PREFIX)
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.sets(st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join), max_size=25))
def test_scan_and_keys_are_sorted_whatever_the_names(tmp_path: Path, keys: set[str]) -> None:
    base = tmp_path / f"base-{len(list(tmp_path.iterdir()))}"
    tracker = FsspecResultTracker(base)
    stored = set()
    for key in sorted(keys, key=len):
        try:
            tracker[key] = {"key": key}
        except KeyConflictError:
            continue  # 'a' and 'a/b' cannot both be keys in a folder
        stored.add(key)
    assert [record.key for record in tracker.scan()] == sorted(stored)
    assert list(tracker.keys()) == sorted(stored)
    for record in tracker.scan():
        assert record.results == {"key": record.key}
    prefix = min(stored, default="x").split("/")[0]
    under = sorted(key for key in stored if key == prefix or key.startswith(prefix + "/"))
    assert [record.key for record in tracker.scan(prefix)] == under
