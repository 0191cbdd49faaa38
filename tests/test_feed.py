"""The change feed (``tracker.watch``) and the ``watch`` and ``compact`` commands.

A mirror built only from the feed's changes must equal the model the test keeps
of what was written, after every round of writes through the library, around
it (raw files in place, boto3, torchx) and in the same instant as a poll.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import fsspec
import pytest
from click.testing import CliRunner
from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

from resulttracker import Change, CorruptResultError, FsspecResultTracker, cli
from resulttracker.backends.local_versions import RACY_SECONDS

from .counting_s3 import CountingS3
from .scale_harness import (  # noqa: F401 (fixtures)
    Model,
    Scene,
    counting_s3_fixture,
    fill,
    local_scene,
    s3_scene,
    scene_fixture,
)


def apply(mirror: Model, changes: list[Change]) -> None:
    """Apply a poll's changes to a mirror, checking each is well formed."""
    assert [change.key for change in changes] == sorted(change.key for change in changes)
    for change in changes:
        if change.kind == "put":
            assert change.record is not None
            assert change.record.key == change.key
            mirror[change.key] = change.record.results
        else:
            assert change.kind == "delete"
            assert change.record is None
            assert change.key in mirror
            del mirror[change.key]


def test_the_feed_follows_random_writes_around_the_library(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 30)
    tracker = scene.tracker()
    feed = tracker.watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    assert mirror == model
    randomness = random.Random(13)
    for round_number in range(6):
        for _ in range(8):
            key = f"exp/{randomness.randrange(40):05d}"
            action = randomness.random()
            if action < 0.3 and key in model:
                if randomness.random() < 0.5:
                    tracker.delete(key)
                else:
                    scene.raw_delete(key)
                del model[key]
            elif action < 0.6:
                tracker.put(key, loss=round_number + action, seed=round_number)
                model[key] = {"loss": round_number + action, "seed": round_number}
            else:
                scene.put_raw(model, key, {"loss": float(round_number), "seed": 7})
        changes = feed.poll()
        apply(mirror, changes)
        assert mirror == model, f"round {round_number}"
    assert feed.poll() == []


def test_an_idle_poll_on_s3_costs_one_list_per_1000_keys_and_no_get(
    counting_s3: CountingS3,
) -> None:
    scene = s3_scene(counting_s3)
    model: Model = {}
    fill(scene, model, 1050)
    feed = scene.tracker().watch()
    counting_s3.reset()
    mirror: Model = {}
    apply(mirror, feed.poll())
    assert mirror == model
    # The keys (their listing shows there is no snapshot), every key read once.
    assert scene.counts() == {"LIST": 2, "GET": 1050}
    counting_s3.reset()
    assert feed.poll() == []
    assert scene.counts() == {"LIST": 2}
    scene.put_raw(model, "exp/00017", {"loss": -17.0})
    counting_s3.reset()
    apply(mirror, feed.poll())
    assert mirror == model
    assert scene.counts() == {"LIST": 2, "GET": 1}
    # A new feed's first poll goes through a snapshot: its manifest and part only.
    scene.tracker().compact()
    scene.put_raw(model, "exp/00018", {"loss": -18.0})
    counting_s3.reset()
    fresh: Model = {}
    new_feed = scene.tracker().watch()
    apply(fresh, new_feed.poll())
    assert fresh == model
    assert scene.counts() == {"LIST": 2, "GET": 2 + 1}
    assert new_feed.last_read == 1


def test_a_rewrite_in_the_same_instant_as_a_poll_is_not_missed(tmp_path: Path) -> None:
    """Same size, mtime put back, in the same clock tick as the poll that just read
    the file: the poll could not trust that version, so the next one reads again."""
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 10)
    feed = scene.tracker().watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    path = Path(scene.base) / "exp/00004"
    for variant in range(3):
        before = os.stat(path)
        data = path.read_bytes()
        new = data.replace(b'"seed": 4', f'"seed": {5 + variant}'.encode())
        assert len(new) == len(data)
        with open(path, "r+b") as file:
            file.write(new)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        model["exp/00004"] = json.loads(new)
        apply(mirror, feed.poll())
        assert mirror == model
        data = new
    # Once the writes are old enough to trust, an idle poll reads nothing.
    time.sleep(RACY_SECONDS + 0.2)
    feed.poll()
    assert feed.poll() == []
    assert feed.last_read == 0


def test_torchx_and_a_concurrent_writer(tmp_path: Path) -> None:
    base = tmp_path / "base"
    torchx = TorchxTracker(str(base))
    tracker = FsspecResultTracker(base)
    # torchx writes in place (truncate, then write): a poll may catch a document
    # half-written, which is corrupt at that instant and is read again next time.
    half_written: list[CorruptResultError] = []
    feed = tracker.watch("exp", on_corrupt=half_written.append)
    mirror: Model = {}
    model: Model = {}
    stop = threading.Event()
    lock = threading.Lock()

    def write() -> None:
        number = 0
        while not stop.is_set():
            key = f"exp/{number % 25}"
            with lock:
                torchx[key] = {"loss": float(number)}
                model[key] = {"loss": float(number)}
            number += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(20):
            apply(mirror, feed.poll())
    finally:
        stop.set()
        writer.join()
    apply(mirror, feed.poll())
    assert mirror == model
    torchx["other/1"] = {"loss": 1.0}  # outside the prefix
    assert feed.poll() == []


def test_identical_rewrites_are_no_change_and_deletes_are(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 5)
    tracker = scene.tracker()
    feed = tracker.watch()
    assert len(feed.poll()) == 5
    tracker.put("exp/00001", **model["exp/00001"])  # the same results again
    assert feed.poll() == []
    tracker.delete("exp/00002")
    assert feed.poll() == [Change("delete", "exp/00002", None)]


def test_corrupt_documents_follow_the_policy(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 3)
    scene.raw_write("exp/bad", b"[1, 2")
    tracker = scene.tracker()
    with pytest.raises(CorruptResultError, match="exp/bad"):
        tracker.watch().poll()
    seen: list[str] = []
    feed = tracker.watch(on_corrupt=lambda error: seen.append(error.key))
    mirror: Model = {}
    apply(mirror, feed.poll())
    assert mirror == model
    assert seen == ["exp/bad"]
    scene.put_raw(model, "exp/bad", {"loss": 1.0})
    apply(mirror, feed.poll())
    assert mirror == model
    with pytest.raises(ValueError, match="on_corrupt"):
        tracker.watch(on_corrupt="ignore")  # type: ignore[arg-type]


def test_a_raising_poll_leaves_the_feed_where_it_was(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 3)
    feed = scene.tracker().watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    scene.put_raw(model, "exp/00001", {"loss": 10.0})
    scene.raw_write("exp/bad", b"nope")
    with pytest.raises(CorruptResultError):
        feed.poll()
    scene.raw_delete("exp/bad")
    apply(mirror, feed.poll())
    assert mirror == model


def test_stores_without_version_tags_give_the_same_changes() -> None:
    base = f"memory://feed-{os.getpid()}-{random.getrandbits(32):x}/base"
    tracker = FsspecResultTracker(base)
    tracker.put("a", x=1)
    feed = tracker.watch()
    mirror: Model = {}
    apply(mirror, feed.poll())
    fsspec.filesystem("memory").pipe_file(base[len("memory://") :] + "/b", b'{"x": 2}')
    tracker.put("a", x=3)
    apply(mirror, feed.poll())
    assert mirror == {"a": {"x": 3}, "b": {"x": 2}}
    assert feed.poll() == []


# -- the commands -------------------------------------------------------------------------


def run(base: Path | str, *args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(cli.cli, ["-b", str(base), *args], **kwargs)


def test_watch_streams_every_key_then_the_changes(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    tracker.put("exp/1", loss=0.5)
    tracker.put("exp/2", loss=0.25)

    def later() -> None:
        time.sleep(0.6)
        tracker.put("exp/3", loss=0.125)
        tracker.delete("exp/1")

    thread = threading.Thread(target=later)
    thread.start()
    result = run(tmp_path, "watch", "exp", "--interval", "0.1", "--count", "4", "-f", "jsonl")
    thread.join()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    changes = [(row["kind"], row["key"]) for row in rows]
    assert changes[:2] == [("put", "exp/1"), ("put", "exp/2")]
    # The last two may come in one poll (sorted by key) or in two.
    assert sorted(changes[2:]) == [("delete", "exp/1"), ("put", "exp/3")]
    by_kind = {row["kind"]: row for row in rows[2:]}
    assert by_kind["put"]["results"] == {"loss": 0.125}
    assert by_kind["put"]["modified"].endswith("+00:00")
    assert by_kind["delete"]["results"] is None


def test_watch_new_and_timeout(tmp_path: Path) -> None:
    FsspecResultTracker(tmp_path).put("exp/1", loss=0.5)
    started = time.monotonic()
    result = run(tmp_path, "watch", "--new", "--timeout", "0.3", "--interval", "0.05")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert 0.3 <= time.monotonic() - started < 5
    table = run(tmp_path, "watch", "--timeout", "0", "-f", "table")
    assert table.exit_code == 0
    assert "put" in table.output
    assert "exp/1" in table.output
    assert "loss=0.5" in table.output


def test_compact_command_and_check(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path)
    for number in range(40):
        tracker.put(f"exp/{number}", loss=number)
    time.sleep(RACY_SECONDS + 0.2)
    result = run(tmp_path, "compact", "-f", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["keys"], report["read"], report["prefix"]) == (40, 40, "")
    assert report["snapshot"].startswith(".resulttracker/snapshots/all-")
    shown = run(tmp_path, "show", "-f", "jsonl")
    assert [json.loads(line)["key"] for line in shown.output.splitlines()] == sorted(
        f"exp/{number}" for number in range(40)
    )
    part = next((tmp_path / ".resulttracker" / "parts").rglob("*.gz"))
    part.write_bytes(b"damaged")
    checked = run(tmp_path, "check", "-f", "jsonl")
    assert checked.exit_code == 1
    assert "damaged snapshot" in checked.output
    assert run(tmp_path, "check", "--fix").exit_code == 0
    assert run(tmp_path, "check").exit_code == 0
    assert run("memory://no-snapshots", "put", "k", "x=1").exit_code == 0
    memory = run("memory://no-snapshots", "compact")
    assert memory.exit_code == 1
    assert "no version tags" in memory.output
    missing = run(tmp_path / "missing", "compact")
    assert missing.exit_code == 1
    assert "does not exist" in missing.output
