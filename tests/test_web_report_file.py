"""``write_report`` writes its file through nothing an attacker can plant (issue #12 item 17).

Someone who can create files in the destination folder (a shared results
folder, /tmp) plants symlinks at the names the writer will use, to make it
overwrite a file of theirs choosing (the victim) with the report.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker
from resulttracker.errors import StoreError
from resulttracker.web import write_report

VICTIM_TEXT = "precious: must never be overwritten\n"


@pytest.fixture
def tracker(tmp_path: Path) -> FsspecResultTracker:
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["exp/1"] = {"loss": 0.5}
    tracker["exp/2"] = {"loss": 0.25}
    return tracker


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "victim.txt"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path


def is_report(path: Path) -> bool:
    text = path.read_text()
    return (
        text.startswith("<!doctype html>") and "exp/2" in text and text.rstrip().endswith("</html>")
    )


def test_a_symlink_at_the_old_predictable_name_is_never_followed(
    tracker: FsspecResultTracker, victim: Path, folder: Path
) -> None:
    destination = folder / "report.html"
    planted = folder / f"report.html.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    assert write_report(tracker, str(destination)) == 2
    assert victim.read_text() == VICTIM_TEXT
    assert is_report(destination)
    assert not destination.is_symlink()
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", planted.name]


class Candidates:
    """Stands in for tempfile's random names: a fixed sequence, recording each use."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.used: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        name = self.names[len(self.used) % len(self.names)]
        self.used.append(name)
        return name


def test_symlinks_at_the_random_candidates_are_skipped(
    tracker: FsspecResultTracker,
    victim: Path,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = folder / "report.html"
    # Learn which paths the writer derives from a candidate name ...
    tried: list[str] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        tried.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    probe = Candidates(["PROBEPROBE"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: probe)
    monkeypatch.setattr(os, "open", recording_open)
    write_report(tracker, str(destination))
    monkeypatch.setattr(os, "open", real_open)
    (pattern,) = [path for path in tried if "PROBEPROBE" in path]
    assert Path(pattern).parent == folder  # in the destination's folder (same file system)
    # ... then plant a symlink to the victim at each of the first names it will try.
    names = [f"cand{number}" for number in range(6)]
    for name in names[:5]:
        Path(pattern.replace("PROBEPROBE", name)).symlink_to(victim)
    destination.unlink()
    sequence = Candidates(names)
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: sequence)
    assert write_report(tracker, str(destination)) == 2
    assert sequence.used == names  # every planted name was refused, the sixth used
    assert victim.read_text() == VICTIM_TEXT
    assert is_report(destination)
    for name in names[:5]:
        assert Path(pattern.replace("PROBEPROBE", name)).is_symlink()  # left as they were
    assert not Path(pattern.replace("PROBEPROBE", names[5])).exists()  # renamed away


def test_a_destination_that_is_a_symlink_is_replaced_not_written_through(
    tracker: FsspecResultTracker, victim: Path, folder: Path
) -> None:
    destination = folder / "report.html"
    destination.symlink_to(victim)
    write_report(tracker, str(destination))
    assert not destination.is_symlink()
    assert is_report(destination)
    assert victim.read_text() == VICTIM_TEXT
    # a dangling link too
    dangling = folder / "dangling.html"
    dangling.symlink_to(folder / "nowhere" / "x.html")
    write_report(tracker, str(dangling))
    assert not dangling.is_symlink()
    assert is_report(dangling)
    assert not (folder / "nowhere").exists()


def test_a_hard_link_keeps_its_old_content(
    tracker: FsspecResultTracker, victim: Path, tmp_path: Path
) -> None:
    destination = victim.parent / "report.html"
    os.link(victim, destination)
    write_report(tracker, str(destination))
    assert victim.read_text() == VICTIM_TEXT
    assert is_report(destination)


def test_the_report_gets_the_usual_permissions(tracker: FsspecResultTracker, folder: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_report(tracker, str(folder / "a.html"))
    finally:
        os.umask(previous)
    assert (folder / "a.html").stat().st_mode & 0o777 == 0o640
    write_report(tracker, f"file://{folder}/b.html")
    assert (folder / "b.html").stat().st_mode & 0o777 == 0o666 & ~previous


@pytest.mark.parametrize("where", ["a folder", "a missing folder"])
def test_a_failed_write_leaves_nothing_behind(
    tracker: FsspecResultTracker, folder: Path, where: str
) -> None:
    destination = folder / "taken"
    if where == "a folder":
        destination.mkdir()
        (destination / "inside").write_text("kept")
    else:
        destination = folder / "missing" / "report.html"
    before = sorted(str(p) for p in folder.rglob("*"))
    with pytest.raises(StoreError, match="could not write the report"):
        write_report(tracker, str(destination))
    assert sorted(str(p) for p in folder.rglob("*")) == before


def test_concurrent_reports_to_one_file_leave_one_whole_report(
    tracker: FsspecResultTracker, folder: Path
) -> None:
    destination = folder / "report.html"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(3):
                write_report(tracker, str(destination))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert is_report(destination)
    assert [p.name for p in folder.iterdir()] == ["report.html"]
