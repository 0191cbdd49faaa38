"""Special files at a key's path (FIFO, socket, device) are never read.

Reading one returns at once with :class:`CorruptResultError` naming the key
(never a hang on a FIFO without a writer, never a raw ``OSError``); bulk reads
report it per key and go on; a put never writes over one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resulttracker import CorruptResultError, FsspecResultTracker, KeyConflictError, cli

#: The longest any single read may take here; a blocked open would never return.
PROMPT = 5.0


def promptly(fifos: list[Path], operation: Callable[[], Any]) -> Any:
    """Run ``operation`` in a thread and fail unless it ends within ``PROMPT``
    seconds; on a hang, release the FIFOs (open them for writing) so that the
    stuck thread, and pytest, can end."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = operation()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(PROMPT)
    if worker.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(PROMPT)
        pytest.fail(f"the operation blocked for over {PROMPT:g} s")
    assert time.monotonic() - started < PROMPT
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def special(tmp_path: Path) -> Iterator[tuple[FsspecResultTracker, dict[str, Path]]]:
    """A base with good keys and, at keys of their own, a FIFO, a socket, a
    character device (made with mknod where allowed) and a folder."""
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["a"] = {"x": 1}
    tracker["exp/z"] = {"x": 2}
    paths = {"fifo": base / "exp" / "fifo", "socket": base / "socket"}
    os.mkfifo(paths["fifo"])
    # A socket path must be short: bind from inside its folder.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.getcwd()
    os.chdir(base)
    try:
        listener.bind("socket")
    finally:
        os.chdir(old)
    try:
        os.mknod(base / "exp" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pass  # not root: no device node
    else:
        paths["device"] = base / "exp" / "null"
    try:
        yield tracker, paths
    finally:
        listener.close()


KINDS = {"fifo": "FIFO", "socket": "socket", "device": "character device"}


def key_of(path: Path, tracker: FsspecResultTracker) -> str:
    return str(path.relative_to(tracker.tracker_base))


def test_get_of_a_special_file_is_a_prompt_clear_error(
    special: tuple[FsspecResultTracker, dict[str, Path]],
) -> None:
    tracker, paths = special
    fifos = [paths["fifo"]]
    for name, path in paths.items():
        key = key_of(path, tracker)
        with pytest.raises(CorruptResultError, match=rf"key '{key}'.*{KINDS[name]}") as caught:
            promptly(fifos, lambda key=key: tracker.get(key))  # type: ignore[misc]
        assert caught.value.key == key
        assert caught.value.location == str(path)
        with pytest.raises(CorruptResultError, match=rf"key '{key}'"):
            promptly(fifos, lambda key=key: tracker.get_many(["a", key]))  # type: ignore[misc]
        # Nothing below a special file: not a key, not an error.
        assert promptly(fifos, lambda key=key: tracker.get(key + "/below")) == {}  # type: ignore[misc]


def test_bulk_reads_report_each_special_file_and_go_on(
    special: tuple[FsspecResultTracker, dict[str, Path]],
) -> None:
    tracker, paths = special
    fifos = [paths["fifo"]]
    specials = sorted(key_of(path, tracker) for path in paths.values())
    assert promptly(fifos, lambda: list(tracker.keys())) == sorted(["a", "exp/z", *specials])
    errors: list[CorruptResultError] = []
    records = promptly(fifos, lambda: list(tracker.scan(on_corrupt=errors.append)))
    assert [record.key for record in records] == ["a", "exp/z"]
    assert sorted(error.key for error in errors) == specials
    with pytest.raises(CorruptResultError):
        promptly(fifos, lambda: list(tracker.scan()))
    report = promptly(fifos, lambda: tracker.check(fix=True, min_age=0))
    assert report.checked == 2 + len(specials)
    assert sorted(error.key for error in report.corrupt) == specials
    assert not report.ok
    # check never removes them: a person should look.
    assert all(path.exists() for path in paths.values())
    assert promptly(fifos, lambda: [r.key for r in tracker.scan("exp", on_corrupt="skip")]) == [
        "exp/z"
    ]


def test_a_put_never_writes_over_a_special_file_and_delete_removes_it(
    special: tuple[FsspecResultTracker, dict[str, Path]],
) -> None:
    tracker, paths = special
    for path in paths.values():
        key = key_of(path, tracker)
        mode = path.lstat().st_mode
        with pytest.raises(KeyConflictError, match=rf"key '{key}'.*not a regular file"):
            promptly([paths["fifo"]], lambda key=key: tracker.put(key, x=1))  # type: ignore[misc]
        with pytest.raises(KeyConflictError, match=rf"key '{key}/below'"):
            tracker[key + "/below"] = {"x": 1}
        assert path.lstat().st_mode == mode
        assert tracker.delete(key) is True
        assert not os.path.lexists(path)
        tracker[key] = {"now": 1}
        assert tracker[key] == {"now": 1}


def test_a_folder_at_a_key_is_no_results(
    special: tuple[FsspecResultTracker, dict[str, Path]],
) -> None:
    # As on every store, a key that is only the prefix of other keys has no results.
    tracker, _ = special
    assert tracker.get("exp") == {}
    assert tracker.get_many(["exp"]) == {"exp": {}}
    assert tracker.delete("exp") is False


def test_the_command_line_reports_a_fifo_promptly(
    special: tuple[FsspecResultTracker, dict[str, Path]],
) -> None:
    tracker, paths = special
    base = tracker.tracker_base
    got = promptly(
        [paths["fifo"]], lambda: CliRunner().invoke(cli.cli, ["--base", base, "get", "exp/fifo"])
    )
    assert got.exit_code == 1
    assert "exp/fifo" in got.output
    assert "FIFO" in got.output
    assert "Traceback" not in got.output


def test_the_dashboard_and_copy_skip_special_files_and_links_promptly(
    special: tuple[FsspecResultTracker, dict[str, Path]], tmp_path: Path
) -> None:
    import http.client
    import json

    from resulttracker import copy
    from resulttracker.web import make_app
    from resulttracker.web.server import run_server

    tracker, paths = special
    (Path(tracker.tracker_base) / "link").symlink_to(tmp_path)
    refused = len(paths) + 1
    server = run_server(make_app(tracker, refresh=0.2), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}).start()
    try:

        def fetch() -> Any:
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.server_address[1], timeout=PROMPT
            )
            connection.request("GET", "/api/records")
            body = connection.getresponse().read()
            connection.close()
            return json.loads(body)

        served = promptly([paths["fifo"]], fetch)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(record["key"] for record in served["records"]) == ["a", "exp/z"]
    assert served["corrupt"] == refused
    destination = FsspecResultTracker(tmp_path / "copy")
    report = promptly([paths["fifo"]], lambda: copy(tracker, destination))
    assert sorted(destination.keys()) == ["a", "exp/z"]
    assert len(report.corrupt) == refused


def test_links_to_special_files_are_refused_without_opening_them(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tracker = FsspecResultTracker(base)
    tracker["a"] = {"x": 1}
    outside_fifo = tmp_path / "outside-fifo"
    os.mkfifo(outside_fifo)
    (base / "null").symlink_to("/dev/null")
    (base / "pipe").symlink_to(outside_fifo)
    (base / "zero").symlink_to("/dev/zero")  # endless: a follower would read 16 MiB of it
    for key in ("null", "pipe", "zero"):
        with pytest.raises(CorruptResultError, match=rf"key '{key}'.*symbolic link"):
            promptly([outside_fifo], lambda key=key: tracker.get(key))  # type: ignore[misc]
    errors: list[CorruptResultError] = []
    records = promptly([outside_fifo], lambda: list(tracker.scan(on_corrupt=errors.append)))
    assert [record.key for record in records] == ["a"]
    assert sorted(error.key for error in errors) == ["null", "pipe", "zero"]
    assert stat.S_ISFIFO(outside_fifo.lstat().st_mode)
