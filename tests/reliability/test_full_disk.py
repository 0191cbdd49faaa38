"""A put that hits a full disk or an I/O error fails cleanly and keeps the old value."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from resulttracker import FsspecResultTracker


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs where the machine allows mounting one (root), else ``None``."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_real_full_disk(small_disk: Path) -> None:
    tracker = FsspecResultTracker(small_disk / "base")
    tracker["kept"] = {"old": 1}
    padding = {f"n{i}": "x" * 1000 for i in range(60)}
    full = os.strerror(errno.ENOSPC)
    with pytest.raises(OSError, match=full) as caught:  # noqa: PT012 - fill the disk
        for number in range(1000):
            tracker[f"fill/{number}"] = padding
    assert caught.value.errno == errno.ENOSPC
    with pytest.raises(OSError, match=full) as caught:
        tracker["kept"] = padding
    assert caught.value.errno == errno.ENOSPC
    assert tracker["kept"] == {"old": 1}
    names = files_under(small_disk / "base")
    assert not [name for name in names if ".rttmp-" in name]
    assert all(tracker[name] == padding for name in names if name.startswith("fill/"))


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_injected_errors_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, failing: str
) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker["kept"] = {"old": 1}
    real_write = os.write

    def half_then_fail(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])  # a partial write really happens
        raise OSError(error, os.strerror(error))

    def fail(*args: object, **kwargs: object) -> None:  # os.replace(..., src_dir_fd=...)
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, failing, half_then_fail if failing == "write" else fail)
    with pytest.raises(OSError, match=os.strerror(error)) as caught:
        tracker["kept"] = {"new": "y" * 500}
    assert caught.value.errno == error
    monkeypatch.undo()
    assert tracker["kept"] == {"old": 1}
    assert files_under(tmp_path) == {"kept"}
