"""What a writer killed mid-put leaves in a folder base, and how ``check`` clears it.

A put of ``a/b/c`` makes ``a`` and ``a/b`` before its temporary file; a writer
killed in between leaves empty folders, nested empty folders, or folders holding
only a stale temporary file. Such a folder in a key's place makes ``put`` of
that key fail with :class:`KeyConflictError` (whose message says how to clear
it) until ``check(fix=True)`` removes it, temporary files first, then folders
deepest first, each only once older than ``min_age``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from resulttracker import FsspecResultTracker, KeyConflictError, cli
from resulttracker.validation import TEMP_PREFIX

from .conftest import scale

REPOSITORY = Path(__file__).resolve().parents[2]


def age(*paths: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    for path in paths:
        os.utime(path, (old, old), follow_symlinks=False)


def entries(base: Path) -> set[str]:
    return {str(path.relative_to(base)) for path in base.rglob("*")}


def test_an_empty_folder_in_a_keys_place_is_reported_and_cleared(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["kept"] = {"x": 1}
    (base / "a").mkdir()
    with pytest.raises(KeyConflictError, match=r"key 'a'.*holding no key.*check --fix") as caught:
        tracker["a"] = {"x": 1}
    assert isinstance(caught.value, FileExistsError)
    report = tracker.check()
    assert report.empty_folders == [f"{base}/a/"]
    assert report.corrupt == []
    assert not report.ok
    # Too young (it may be a put in progress): kept.
    young = tracker.check(fix=True)
    assert young.removed == []
    assert not young.ok
    assert (base / "a").is_dir()
    fixed = tracker.check(fix=True, min_age=0)
    assert fixed.removed == [f"{base}/a/"]
    assert fixed.ok
    assert entries(base) == {"kept"}
    tracker["a"] = {"x": 1}
    assert tracker["a"] == {"x": 1}
    assert tracker.check().ok


def test_nested_empty_folders_and_stale_temporary_files_go_deepest_first(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["keep/k"] = {"x": 1}
    (base / "a" / "b" / "c").mkdir(parents=True)
    (base / "t" / "u").mkdir(parents=True)
    stale = base / "t" / "u" / f"{TEMP_PREFIX}123-dead"
    stale.write_bytes(b'{"half": ')
    (base / "keep" / "empty").mkdir()
    for key in ("a", "a/b", "t", "t/u"):
        with pytest.raises(KeyConflictError, match=rf"key '{key}'.*holding no key.*check --fix"):
            tracker[key] = {"x": 1}
    # (Those puts touched the folders: make everything old only now.)
    age(stale, base / "a" / "b" / "c", base / "a" / "b", base / "a")
    age(base / "t" / "u", base / "t", base / "keep" / "empty", base / "keep")
    report = tracker.check()
    assert report.temporary_files == [str(stale)]
    assert set(report.empty_folders) == {
        f"{base}/a/b/c/",
        f"{base}/a/b/",
        f"{base}/a/",
        f"{base}/t/u/",
        f"{base}/t/",
        f"{base}/keep/empty/",
    }
    position = report.empty_folders.index
    assert position(f"{base}/a/b/c/") < position(f"{base}/a/b/") < position(f"{base}/a/")
    assert position(f"{base}/t/u/") < position(f"{base}/t/")

    # Removing the stale file does not make its folder look new: one pass clears it all.
    fixed = tracker.check(fix=True)
    assert set(fixed.removed) == {str(stale), *report.empty_folders}
    assert fixed.ok
    assert entries(base) == {"keep", "keep/k"}
    for key in ("a", "t"):
        tracker[key] = {"x": 2}
        assert tracker[key] == {"x": 2}


def test_min_age_protects_a_folder_with_anything_young_in_it(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    (base / "old" / "young").mkdir(parents=True)
    age(base / "old")  # the parent is old, its child folder was just made
    (base / "busy").mkdir()
    temporary = base / "busy" / f"{TEMP_PREFIX}9-live"
    temporary.write_bytes(b"")  # a put in progress
    age(base / "busy")
    report = tracker.check(fix=True)
    assert report.removed == []
    assert set(report.empty_folders) == {f"{base}/old/young/", f"{base}/old/", f"{base}/busy/"}
    assert report.temporary_files == [str(temporary)]
    assert entries(base) == {"old", "old/young", "busy", f"busy/{temporary.name}"}
    age(base / "old" / "young", base / "old", temporary, base / "busy")
    assert tracker.check(fix=True).ok
    assert entries(base) == set()
    assert base.is_dir()  # the base itself is never removed


def test_folders_holding_keys_links_or_special_files_are_not_empty(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["k/v"] = {"x": 1}
    (base / "l").mkdir()
    (base / "l" / "link").symlink_to(tmp_path)
    (base / "f").mkdir()
    os.mkfifo(base / "f" / "fifo")
    age(base / "k", base / "l", base / "f")
    report = tracker.check(fix=True, min_age=0)
    assert report.empty_folders == []
    assert report.removed == []
    assert entries(base) == {"k", "k/v", "l", "l/link", "f", "f/fifo"}


def test_a_prefix_limits_the_check(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    (base / "a" / "x").mkdir(parents=True)
    (base / "b").mkdir()
    report = tracker.check("a", fix=True, min_age=0)
    assert report.empty_folders == [f"{base}/a/x/", f"{base}/a/"]
    assert report.ok
    assert entries(base) == {"b"}
    assert tracker.check("b").empty_folders == [f"{base}/b/"]
    assert tracker.check("nothing/here").ok


def test_the_command_line_lists_and_removes_empty_folders(tmp_path: Path) -> None:
    base = tmp_path / "base"
    FsspecResultTracker(base)["k"] = {"x": 1}
    (base / "a" / "b").mkdir(parents=True)
    runner = CliRunner()
    found = runner.invoke(cli.cli, ["--base", str(base), "check", "--format", "csv"])
    assert found.exit_code == 1
    assert f"empty folder,,{base}/a/b/,kept: --fix removes it" in found.stdout
    assert "2 empty folders" in found.output
    fixed = runner.invoke(
        cli.cli, ["--base", str(base), "check", "--fix", "--min-age", "0", "--format", "csv"]
    )
    assert fixed.exit_code == 0, fixed.output
    assert f"empty folder,,{base}/a/,removed" in fixed.stdout
    assert entries(base) == {"k"}


KILLED_WRITER = """
import sys
from resulttracker import FsspecResultTracker
tracker = FsspecResultTracker(sys.argv[1])
number = 0
while True:
    key = f"n{number}/deep/er/key"
    tracker[key] = {"number": number}
    print(number, flush=True)
    tracker.delete(key)
    number += 1
"""


def test_after_writers_killed_mid_put_check_fix_lets_every_parent_key_be_written(
    tmp_path: Path,
) -> None:
    """Real writers, each making fresh folders for every put, killed with SIGKILL
    at random moments: whatever they leave, one check --fix clears."""
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    for run in range(scale(30, 8)):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(base)],
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONPATH": str(REPOSITORY / "src")},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        writer.stdout.readline()
        time.sleep(0.001 * (run % 7))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        # Each run starts its numbers again: a leftover folder blocks nothing.
    report = tracker.check(fix=True, min_age=0)
    assert report.ok, report
    assert report.corrupt == []
    left = entries(base)
    # Only whole keys remain (a writer killed between its put and its delete).
    assert all(tracker[key] for key in tracker)
    assert {path for path in left if (base / path).is_file()} == set(tracker.keys())
    for key in {path.split("/")[0] for path in left} | {"n0", "n1"}:
        if not (base / key).is_dir() or list(tracker.keys(key)) == []:
            tracker[key] = {"parent": 1}
            assert tracker[key] == {"parent": 1}
