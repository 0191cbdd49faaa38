"""Symbolic links inside a folder base never lead a key outside it.

A link can sit anywhere in a key's path (a linked folder, a linked file, a link
to ``..``, a link as an intermediate folder, a dangling link) or be swapped in
while an operation runs. Whatever the operation (get, get_many, scan, keys,
put, delete, check with fix), nothing outside the base is read, written,
created or removed: sentinel files around the base prove it, and each refusal
is a library error naming the key.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resulttracker import (
    CorruptResultError,
    FsspecResultTracker,
    KeyConflictError,
    StoreError,
    cli,
)
from resulttracker.validation import TEMP_PREFIX

from .conftest import scale

#: What every sentinel outside the base holds: a valid document, so that a read
#: through a link would succeed silently rather than fail by luck.
STOLEN = b'{\n  "stolen": 1\n}'


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under ``folder`` with its type, content and times (no link
    followed), to prove that nothing there changed."""
    found: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        link = os.readlink(path) if path.is_symlink() else None
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_mtime_ns, content, link)
    return found


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the base full of sentinels: files, a folder with a key-like
    file, a stale-looking temporary file and an empty folder."""
    root = tmp_path / "outside"
    (root / "dir" / "empty").mkdir(parents=True)
    (root / "secret").write_bytes(STOLEN)
    (root / "dir" / "k").write_bytes(STOLEN)
    (root / "dir" / f"{TEMP_PREFIX}1-dead").write_bytes(b"{")
    old = time.time() - 3600
    for path in (root / "dir" / f"{TEMP_PREFIX}1-dead", root / "dir" / "empty", root / "dir"):
        os.utime(path, (old, old))
    return root


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "base"
    tracker = FsspecResultTracker(folder)
    tracker["ok"] = {"x": 1}
    tracker["real/k"] = {"mine": 1}
    return folder


def corrupt_keys(tracker: FsspecResultTracker) -> tuple[list[str], list[CorruptResultError]]:
    errors: list[CorruptResultError] = []
    keys = [record.key for record in tracker.scan(on_corrupt=errors.append)]
    return keys, errors


def test_a_linked_folder_is_never_entered(base: Path, outside: Path) -> None:
    (base / "exp").symlink_to(outside / "dir")
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)

    with pytest.raises(CorruptResultError, match=r"key 'exp/k'.*symbolic link") as caught:
        tracker.get("exp/k")
    assert caught.value.key == "exp/k"
    assert str(base / "exp") in str(caught.value)
    with pytest.raises(CorruptResultError, match=r"key 'exp/k'"):
        tracker.get_many(["ok", "exp/k"])
    with pytest.raises(CorruptResultError, match=r"key 'exp/k'"):
        _ = "exp/k" in tracker

    # Listings show the link as one (unreadable) entry and never go through it.
    assert list(tracker.keys()) == ["exp", "ok", "real/k"]
    assert list(tracker.keys("exp")) == ["exp"]
    assert list(tracker.keys("exp/k")) == []
    keys, errors = corrupt_keys(tracker)
    assert keys == ["ok", "real/k"]
    assert [error.key for error in errors] == ["exp"]
    assert "symbolic link" in errors[0].reason
    assert list(tracker.scan("exp/k")) == []
    report = tracker.check(fix=True, min_age=0)
    assert [error.key for error in report.corrupt] == ["exp"]
    assert report.temporary_files == []
    assert report.empty_folders == []
    assert not report.ok

    for key in ("exp/new", "exp/k", "exp/sub/new", "exp/empty/new"):
        with pytest.raises(KeyConflictError, match=rf"key '{key}'.*symbolic link") as conflict:
            tracker[key] = {"x": 2}
        assert str(base / "exp") in str(conflict.value)
    with pytest.raises(KeyConflictError, match=r"key 'exp'.*symbolic link"):
        tracker["exp"] = {"x": 2}
    with pytest.raises(StoreError, match=r"key 'exp/k'.*symbolic link"):
        tracker.delete("exp/k")
    assert snapshot(outside) == before

    # The link itself can be removed, and only the link.
    assert tracker.delete("exp") is True
    assert not (base / "exp").exists()
    assert not (base / "exp").is_symlink()
    assert snapshot(outside) == before
    tracker["exp/k"] = {"mine": 2}
    assert tracker["exp/k"] == {"mine": 2}
    assert snapshot(outside) == before


def test_a_linked_file_is_neither_read_nor_written_through(base: Path, outside: Path) -> None:
    (base / "k").symlink_to(outside / "secret")
    (base / "real" / "link").symlink_to(outside / "dir" / "k")
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)
    for key in ("k", "real/link"):
        with pytest.raises(CorruptResultError, match=rf"key '{key}'.*symbolic link"):
            tracker.get(key)
        with pytest.raises(KeyConflictError, match=rf"key '{key}'.*symbolic link"):
            tracker[key] = {"x": 2}
    # A key below a linked file goes nowhere either.
    with pytest.raises(CorruptResultError, match=r"key 'k/below'.*symbolic link"):
        tracker.get("k/below")
    with pytest.raises(KeyConflictError, match=r"key 'k/below'.*symbolic link"):
        tracker["k/below"] = {"x": 2}
    keys, errors = corrupt_keys(tracker)
    assert keys == ["ok", "real/k"]
    assert sorted(error.key for error in errors) == ["k", "real/link"]
    assert list(tracker.keys()) == ["k", "ok", "real/k", "real/link"]
    assert snapshot(outside) == before
    assert (base / "k").is_symlink()
    assert tracker.delete("real/link") is True
    assert tracker.delete("k") is True
    assert snapshot(outside) == before
    assert list(tracker.keys()) == ["ok", "real/k"]


def test_a_link_to_the_parent_folder_is_not_a_way_out(base: Path, outside: Path) -> None:
    (base / "up").symlink_to("..")
    (base / "real" / "loop").symlink_to("../real")  # a cycle a follower would loop in
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)
    for key in ("up/outside/secret", "up/base/ok", "up/outside/dir/k"):
        with pytest.raises(CorruptResultError, match=rf"key '{key}'.*{base / 'up'}"):
            tracker.get(key)
        with pytest.raises(KeyConflictError, match=rf"key '{key}'"):
            tracker[key] = {"x": 2}
        with pytest.raises(StoreError, match=rf"key '{key}'"):
            tracker.delete(key)
    with pytest.raises(KeyConflictError):
        tracker["up/outside/planted/x"] = {"x": 2}
    assert list(tracker.keys()) == ["ok", "real/k", "real/loop", "up"]
    keys, errors = corrupt_keys(tracker)
    assert keys == ["ok", "real/k"]
    assert sorted(error.key for error in errors) == ["real/loop", "up"]
    tracker.check(fix=True, min_age=0)
    assert snapshot(outside) == before
    assert not (outside / "planted").exists()


def test_dangling_links_create_nothing_outside(base: Path, outside: Path) -> None:
    (base / "file").symlink_to(outside / "new-file")
    (base / "folder").symlink_to(outside / "new-folder")
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)
    with pytest.raises(KeyConflictError, match=r"key 'file'.*symbolic link"):
        tracker["file"] = {"x": 1}
    with pytest.raises(KeyConflictError, match=r"key 'folder/a/b'.*symbolic link"):
        tracker["folder/a/b"] = {"x": 1}
    with pytest.raises(CorruptResultError, match=r"key 'file'"):
        tracker.get("file")
    assert tracker.get_many(["ok"]) == {"ok": {"x": 1}}
    assert snapshot(outside) == before
    assert not (outside / "new-file").exists()
    assert not (outside / "new-folder").exists()


def test_a_link_deep_in_the_path_is_caught_at_its_own_level(base: Path, outside: Path) -> None:
    (base / "a" / "b").mkdir(parents=True)
    (base / "a" / "b" / "c").symlink_to(outside / "dir")
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)
    with pytest.raises(CorruptResultError, match=rf"key 'a/b/c/k'.*{base / 'a/b/c'},"):
        tracker.get("a/b/c/k")
    with pytest.raises(CorruptResultError, match=r"key 'a/b/c/k'"):
        tracker.get_many(["real/k", "a/b/c/k"])
    with pytest.raises(KeyConflictError, match=r"key 'a/b/c/d/e'.*symbolic link"):
        tracker["a/b/c/d/e"] = {"x": 1}
    assert list(tracker.keys("a")) == ["a/b/c"]
    assert list(tracker.keys("a/b/c/k")) == []
    assert snapshot(outside) == before


def test_check_fix_never_removes_anything_through_a_link(base: Path, outside: Path) -> None:
    (base / "exp").symlink_to(outside / "dir")
    (base / "deep").mkdir()
    (base / "deep" / "link").symlink_to(outside / "dir" / "empty")
    before = snapshot(outside)
    tracker = FsspecResultTracker(base)
    report = tracker.check(fix=True, min_age=0)
    assert report.temporary_files == []
    assert report.empty_folders == []  # 'deep' holds a link: an entry, not nothing
    assert sorted(error.key for error in report.corrupt) == ["deep/link", "exp"]
    assert snapshot(outside) == before
    # Locations crafted to go through the link are refused or do nothing.
    files = tracker.store
    assert not files.remove_temporary_file(f"{base}/exp/{TEMP_PREFIX}1-dead")
    assert not files.remove_empty_folder(f"{base}/exp/empty/")
    assert not files.remove_empty_folder(f"{base}/deep/link/")
    with pytest.raises(ValueError, match="not a"):
        files.remove_empty_folder(f"{base}/../outside/dir/empty/")
    assert snapshot(outside) == before


def test_the_command_line_names_the_key(base: Path, outside: Path) -> None:
    (base / "exp").symlink_to(outside / "dir")
    runner = CliRunner()
    got = runner.invoke(cli.cli, ["--base", str(base), "get", "exp/k"])
    assert got.exit_code == 1
    assert "exp/k" in got.output
    assert "symbolic link" in got.output
    assert "stolen" not in got.output
    checked = runner.invoke(cli.cli, ["--base", str(base), "check"])
    assert checked.exit_code == 1
    assert "exp" in checked.output
    assert "symbolic link" in checked.output
    put = runner.invoke(cli.cli, ["--base", str(base), "put", "exp/new", "x=1"])
    assert put.exit_code == 1
    assert "symbolic link" in put.output
    assert not (outside / "dir" / "new").exists()


def test_a_base_given_as_a_link_is_followed(tmp_path: Path) -> None:
    # The base itself is the caller's choice; only links inside it are refused.
    real = tmp_path / "real-base"
    real.mkdir()
    (tmp_path / "link-base").symlink_to(real)
    tracker = FsspecResultTracker(tmp_path / "link-base")
    tracker["a/b"] = {"x": 1}
    assert (real / "a" / "b").is_file()
    assert tracker["a/b"] == {"x": 1}
    assert list(tracker.keys()) == ["a/b"]


def test_a_link_swapped_in_while_operations_run_never_leads_outside(
    base: Path, outside: Path
) -> None:
    """Another thread keeps replacing the folder ``exp`` with a link to a folder
    outside and back, while every operation runs against keys below it."""
    tracker = FsspecResultTracker(base)
    tracker["exp/k"] = {"mine": 1}
    before = snapshot(outside)
    stop = threading.Event()
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        real, aside = base / "exp", base / "exp-aside"
        while not stop.is_set():
            try:
                os.rename(real, aside)
            except OSError:
                continue  # a put is remaking 'exp' right now
            try:
                os.symlink(outside / "dir", real)
            except FileExistsError:
                pass  # a put made 'exp' again meanwhile
            else:
                time.sleep(0)
                os.unlink(real)
            while True:
                try:
                    os.rename(aside, real)  # over a folder a put made meanwhile, if empty
                    break
                except OSError:
                    shutil.rmtree(real, ignore_errors=True)
            swaps += 1

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    refused = (CorruptResultError, KeyConflictError, StoreError)
    try:
        for number in range(scale(3000, 600)):
            operation = number % 6
            try:
                if operation == 0:
                    assert tracker.get("exp/k") in ({"mine": 1}, {})
                elif operation == 1:
                    assert tracker.get_many(["exp/k"])["exp/k"] in ({"mine": 1}, {})
                elif operation == 2:
                    for record in tracker.scan(on_corrupt="skip"):
                        assert "stolen" not in record.results
                elif operation == 3:
                    tracker["exp/new"] = {"x": number}
                elif operation == 4:
                    tracker.delete("exp/new")
                else:
                    # Old sentinels outside would be removed if the check went there.
                    tracker.check(fix=True)
            except refused:
                pass  # a library error naming the key, while 'exp' is a link
    finally:
        stop.set()
        swapper.join()
    assert swaps > 10
    assert snapshot(outside) == before


def test_snapshots_and_the_change_feed_never_follow_a_link(
    base: Path, outside: Path, tmp_path: Path
) -> None:
    tracker = FsspecResultTracker(base)
    for number in range(40):  # enough keys for scans to go through a snapshot
        tracker[f"exp/{number}"] = {"n": number}
    tracker.compact()
    before = snapshot(outside)
    os.symlink(outside / "secret", base / "exp" / "linked-file")
    os.symlink(outside / "dir", base / "linked-folder")
    os.symlink(outside / "secret", base / "exp" / "1.tmp-swap")
    os.replace(base / "exp" / "1.tmp-swap", base / "exp" / "1")  # a key swapped for a link
    keys, errors = corrupt_keys(tracker)
    assert "exp/linked-file" not in keys
    assert "exp/1" not in keys
    assert sorted(error.key for error in errors) == ["exp/1", "exp/linked-file", "linked-folder"]
    assert all("stolen" not in str(error) for error in errors)
    reported: list[CorruptResultError] = []
    changes = tracker.watch(on_corrupt=reported.append).poll()
    assert {change.key for change in changes}.isdisjoint({"exp/1", "exp/linked-file"})
    assert all("stolen" not in str(change.record) for change in changes)
    assert sorted(error.key for error in reported) == [
        "exp/1",
        "exp/linked-file",
        "linked-folder",
    ]
    tracker.compact()
    keys_again, errors_again = corrupt_keys(tracker)
    assert keys_again == keys
    assert len(errors_again) == 3
    assert snapshot(outside) == before
