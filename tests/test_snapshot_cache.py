"""The local snapshot cache (issue 13 item 6): readers who cannot write into the
store keep its snapshot in a folder of their own, and repeated scans (library
and CLI) read only what changed.

Every result is compared with the test's own model and with a plain scan that
reads every document; S3 requests are counted by the loopback endpoint; writers
go around the library.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resulttracker import FsspecResultTracker, StoreError, StoreTracker, open_tracker, snapshot
from resulttracker.backends.local import LocalFiles
from resulttracker.cli import cli
from resulttracker.snapshot import MANIFEST_FOLDER, PART_FOLDER, snapshot_problems
from resulttracker.snapshot_cache import SnapshotCache
from resulttracker.validation import TEMP_PREFIX

from .counting_s3 import CountingS3
from .scale_harness import (  # noqa: F401 (fixtures)
    Model,
    Scene,
    as_model,
    counting_s3_fixture,
    fill,
    local_scene,
    plain_records,
    s3_scene,
    scene_fixture,
)
from .test_snapshots import manifests_in, same_length_variant, settle


def cached(scene: Scene, cache: Path) -> StoreTracker:
    """A fresh tracker with the cache, as another CLI call would open it."""
    extra = {"skip_instance_cache": True} if scene.name in ("s3", "gcs", "azure") else {}
    return FsspecResultTracker(scene.base, snapshot_cache=cache, **scene.options, **extra)


def count_reads(tracker: StoreTracker) -> list[int]:
    """Count the documents ``tracker``'s store reads (the merge's batched reads)."""
    store = tracker.store
    counted = [0]
    original = store.read_many_versioned

    def counting(keys: Any) -> Any:
        counted[0] += len(keys)
        return original(keys)

    store.read_many_versioned = counting  # type: ignore[method-assign]
    return counted


def cache_entry(cache: Path) -> Path:
    (entry,) = cache.iterdir()
    return entry


def manifests(cache: Path) -> list[Path]:
    return manifests_in(cache_entry(cache))


def everything_in(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*"))


@pytest.fixture
def s3(counting_s3: CountingS3) -> Scene:
    return s3_scene(counting_s3)


# -- request counts ---------------------------------------------------------------------


def test_second_scan_lists_and_reads_only_changed_keys_on_s3(s3: Scene, tmp_path: Path) -> None:
    model: Model = {}
    fill(s3, model, 1050)  # two LIST pages
    cache = tmp_path / "cache"
    s3.counting.reset()  # type: ignore[union-attr]
    assert as_model(cached(s3, cache).scan()) == model
    assert s3.counts() == {"LIST": 2, "GET": 1050}
    s3.counting.reset()  # type: ignore[union-attr]
    records = list(cached(s3, cache).scan())
    assert s3.counts() == {"LIST": 2}  # ⌈1050/1000⌉ LISTs, no GET, nothing written
    assert as_model(records) == model
    assert records == plain_records(s3.tracker())
    # Another writer rewrites a key, adds one and deletes one.
    s3.put_raw(model, "exp/00003", {"loss": -1.0})
    s3.put_raw(model, "exp/new", {"loss": 0.5})
    s3.raw_delete("exp/00004")
    del model["exp/00004"]
    s3.counting.reset()  # type: ignore[union-attr]
    records = list(cached(s3, cache).scan())
    assert s3.counts() == {"LIST": 2, "GET": 2}
    assert as_model(records) == model
    assert records == plain_records(s3.tracker())
    s3.counting.reset()  # type: ignore[union-attr]
    tracker = cached(s3, cache)
    assert tracker.best("loss").key == "exp/00003"
    assert s3.counts() == {"LIST": 2}
    # A prefix scan lists the reserved folder once more (a newer snapshot in the
    # store would be used), and reads nothing.
    s3.counting.reset()  # type: ignore[union-attr]
    assert as_model(tracker.scan("exp")) == model
    assert s3.counts() == {"LIST": 3}
    # Nothing was ever written into the store (no snapshot file under its
    # reserved folder): read-only credentials suffice.
    _, reserved = s3.tracker().store.list_versions_and_reserved("")
    assert reserved == []


def test_cli_show_with_cache_reads_only_changed_keys(s3: Scene, tmp_path: Path) -> None:
    model: Model = {}
    fill(s3, model, 1050)
    cache = tmp_path / "cache"
    options = [f"-o{name}={value}" for name, value in s3.options.items()]
    runner = CliRunner()

    def show(*extra: str, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(
            cli, ["-b", s3.base, *options, *extra, "show", "-f", "jsonl"], env=env
        )
        assert result.exit_code == 0, result.output
        return result.output

    plain = show()
    s3.counting.reset()  # type: ignore[union-attr]
    assert show("--cache", str(cache)) == plain
    # (The HEAD: reading commands check that the bucket exists.)
    assert s3.counts() == {"HEAD": 1, "LIST": 2, "GET": 1050}
    s3.counting.reset()  # type: ignore[union-attr]
    assert show(env={"RESULTTRACKER_CACHE": str(cache)}) == plain
    assert s3.counts() == {"HEAD": 1, "LIST": 2}
    s3.put_raw(model, "exp/00010", {"loss": 1e6})
    s3.counting.reset()  # type: ignore[union-attr]
    # The option also works after the command.
    result = runner.invoke(
        cli, ["-b", s3.base, *options, "best", "loss", "--max", "--cache", str(cache)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["key"] == "exp/00010"
    assert s3.counts() == {"HEAD": 1, "LIST": 2, "GET": 1}
    rows = [json.loads(line) for line in show("--cache", str(cache)).splitlines()]
    assert {row.pop("key"): row for row in rows} == model


def test_a_newer_snapshot_in_the_store_is_used_then_the_cache(s3: Scene, tmp_path: Path) -> None:
    model: Model = {}
    fill(s3, model, 100)
    cache = tmp_path / "cache"
    assert as_model(cached(s3, cache).scan()) == model
    for number in range(50):  # half the keys change...
        s3.put_raw(model, f"exp/{number:05d}", {"loss": -number})
    s3.tracker().compact()  # ...and a writer compacts the store
    s3.counting.reset()  # type: ignore[union-attr]
    records = list(cached(s3, cache).scan())
    # The store's manifest and its one part, not the 50 changed keys.
    assert s3.counts() == {"LIST": 1, "GET": 2}
    assert as_model(records) == model
    assert records == plain_records(s3.tracker())
    s3.counting.reset()  # type: ignore[union-attr]
    assert as_model(cached(s3, cache).scan()) == model
    assert s3.counts() == {"LIST": 1}  # the cache is now the newer one


# -- results always equal a plain scan -----------------------------------------------------


def test_rewrites_deletes_and_racy_files_on_a_folder(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 60)
    settle(scene)
    cache = tmp_path / "cache"
    first = cached(scene, cache)
    reads = count_reads(first)
    assert as_model(first.scan()) == model
    assert reads[0] == 60
    second = cached(scene, cache)
    reads = count_reads(second)
    assert list(second.scan()) == plain_records(second)
    assert reads[0] == 0
    # In place, same size, modification time put back: the change time still differs.
    path = Path(scene.base) / "exp/00007"
    before = os.stat(path)
    with open(path, "r+b") as file:
        file.write(same_length_variant(path.read_bytes()))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    model["exp/00007"] = json.loads(path.read_bytes())
    scene.raw_delete("exp/00008")
    del model["exp/00008"]
    scene.put_raw(model, "exp/racy", {"loss": 0.5})  # too recent to be trusted
    third = cached(scene, cache)
    reads = count_reads(third)
    records = list(third.scan())
    assert as_model(records) == model
    assert records == plain_records(third)
    assert reads[0] == 2
    fourth = cached(scene, cache)
    reads = count_reads(fourth)
    assert as_model(fourth.scan()) == model
    # The new key and the key rewritten in place (its change time is recent too)
    # are read until they are old enough to be trusted.
    assert reads[0] == 2
    settle(scene)
    assert as_model(cached(scene, cache).scan()) == model
    fifth = cached(scene, cache)
    reads = count_reads(fifth)
    assert as_model(fifth.scan()) == model
    assert reads[0] == 0


@pytest.mark.parametrize("damage", ["manifest bytes", "part bytes", "part gone", "foreign file"])
def test_a_damaged_cache_is_ignored_and_replaced(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    cache = tmp_path / "cache"
    list(cached(scene, cache).scan())
    (manifest,) = manifests(cache)
    (part,) = (cache_entry(cache) / PART_FOLDER).glob("*/*")
    if damage == "manifest bytes":
        manifest.write_bytes(manifest.read_bytes().replace(b'"keys": 40', b'"keys": 41'))
    elif damage == "part bytes":
        part.write_bytes(gzip.compress(b'["exp/00001", "s:1", {"loss": 999}]\n'))
    elif damage == "part gone":
        part.unlink()
    else:
        (cache_entry(cache) / MANIFEST_FOLDER / "notes.txt").write_text("mine")
    tracker = cached(scene, cache)
    reads = count_reads(tracker)
    with caplog.at_level(logging.WARNING, logger="resulttracker"):
        records = list(tracker.scan())
    assert records == plain_records(tracker)
    assert as_model(records) == model
    if damage == "foreign file":
        assert reads[0] == 0
        return
    assert reads[0] == 40
    assert "ignoring" in caplog.text
    # A sound snapshot was written beside it: the next scan reads nothing.
    again = cached(scene, cache)
    reads = count_reads(again)
    assert as_model(again.scan()) == model
    assert reads[0] == 0


@pytest.mark.parametrize("where", ["manifest", "part", "entry folder"])
def test_a_symlink_in_the_cache_is_never_followed(tmp_path: Path, where: str) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    cache = tmp_path / "cache"
    list(cached(scene, cache).scan())
    # A forged snapshot of the same store, claiming other results: made by
    # another cache, then linked into this one.
    forged_cache = tmp_path / "forged"
    list(cached(scene, forged_cache).scan())
    forged_entry = cache_entry(forged_cache)
    for part in (forged_entry / PART_FOLDER).glob("*/*"):
        lines = gzip.decompress(part.read_bytes()).decode().splitlines()
        entries = [json.loads(line) for line in lines]
        for entry in entries:
            entry[2] = {"loss": 666}
        body = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
        part.write_bytes(gzip.compress(body))
    (forged_manifest,) = manifests(forged_cache)
    entry = cache_entry(cache)
    (manifest,) = manifests(cache)
    if where == "manifest":
        # The real manifest, its part swapped for a link to the forged one.
        (part,) = (entry / PART_FOLDER).glob("*/*")
        part.unlink()
        (forged_part,) = (forged_entry / PART_FOLDER).glob("*/*")
        part.symlink_to(forged_part)
        manifest.rename(manifest.with_suffix(".old"))
        manifest.symlink_to(manifest.with_suffix(".old"))
    elif where == "part":
        (part,) = (entry / PART_FOLDER).glob("*/*")
        part.unlink()
        (forged_part,) = (forged_entry / PART_FOLDER).glob("*/*")
        part.symlink_to(forged_part)
    else:
        os.rename(entry, tmp_path / "moved")
        entry.symlink_to(forged_entry)
    tracker = cached(scene, cache)
    reads = count_reads(tracker)
    records = list(tracker.scan())
    assert as_model(records) == model
    assert records == plain_records(tracker)
    assert reads[0] == 40
    if where == "entry folder":
        assert not entry.is_symlink()
        assert entry.is_dir()
        assert forged_manifest.exists()  # the link was removed, not what it named
    again = cached(scene, cache)
    reads = count_reads(again)
    assert as_model(again.scan()) == model
    assert reads[0] == 0


def test_a_symlinked_snapshot_file_in_the_store_is_a_damaged_snapshot(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    tracker = scene.tracker()
    tracker.compact()
    (manifest,) = (Path(scene.base) / MANIFEST_FOLDER).iterdir()
    manifest.rename(tmp_path / "elsewhere.json")
    manifest.symlink_to(tmp_path / "elsewhere.json")
    records = list(scene.tracker().scan())  # raised CorruptResultError before
    assert as_model(records) == model
    report = scene.tracker().check()
    assert any("cannot be read" in problem for problem in report.snapshot_problems)


# -- what the cache holds and where -----------------------------------------------------


def test_cache_names_and_contents_hold_no_secret(s3: Scene, tmp_path: Path) -> None:
    secret = "sup3r-s3cret-value"
    model: Model = {}
    fill(s3, model, 40)
    cache = tmp_path / "cache"
    bucket = s3.base.split("/")[2]
    tracker = FsspecResultTracker(
        s3.base,
        snapshot_cache=cache,
        key="AKIDEXAMPLEKEY",
        secret=secret,
        endpoint_url=s3.options["endpoint_url"],
    )
    assert as_model(tracker.scan()) == model
    identity = tracker.store.identity()
    assert identity is not None
    assert secret not in identity
    assert "AKIDEXAMPLEKEY" not in identity
    names = "\n".join(str(path.relative_to(cache)) for path in everything_in(cache))
    contents = b"".join(
        gzip.decompress(data) if path.suffix == ".gz" else data
        for path in everything_in(cache)
        if path.is_file()
        for data in [path.read_bytes()]
    )
    for text in (secret, "AKIDEXAMPLEKEY", bucket, s3.options["endpoint_url"]):
        assert text not in names
        assert text.encode() not in contents
    # Credentials written into the URL do not reach the identity either.
    url = s3.base.replace("s3://", f"s3://AKIDEXAMPLEKEY:{secret}@")
    other = FsspecResultTracker(url, snapshot_cache=cache, **s3.options)
    assert other.store.identity() == identity
    # One entry per store: the same bucket through another endpoint is another.
    moved = dict(s3.options, endpoint_url=s3.options["endpoint_url"] + "/")
    assert FsspecResultTracker(s3.base, **moved).store.identity() == identity
    assert (
        FsspecResultTracker(
            s3.base, **dict(s3.options, endpoint_url="http://other:9000")
        ).store.identity()
        != identity
    )


def test_cache_files_are_private(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    cache = tmp_path / "deeper" / "cache"
    old = os.umask(0o022)
    try:
        list(cached(scene, cache).scan())
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    found = everything_in(cache)
    assert any(path.suffix == ".gz" for path in found)
    for path in found:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_a_cache_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    fill(scene, {}, 5)
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    with pytest.raises(StoreError, match=r"writable by others \(mode 0777\).*chmod 700"):
        list(cached(scene, cache).scan())
    assert not list(cache.iterdir())
    result = CliRunner().invoke(cli, ["-b", scene.base, "--cache", str(cache), "show"])
    assert result.exit_code == 1
    assert "writable by others" in result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder away")
def test_a_cache_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    fill(scene, {}, 5)
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o755)
    os.chown(cache, 65534, 65534)
    with pytest.raises(StoreError, match="belongs to another user"):
        list(cached(scene, cache).scan())
    assert not list(cache.iterdir())


def test_stores_without_version_tags_ignore_the_option(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    memory = FsspecResultTracker(f"memory://cache-test-{os.getpid()}", snapshot_cache=cache)
    memory.put("a", x=1)
    assert as_model(memory.scan()) == {"a": {"x": 1}}
    sqlite = open_tracker(f"sqlite:///{tmp_path / 'r.db'}", snapshot_cache=cache)
    sqlite.put("a", x=2)
    assert as_model(sqlite.scan()) == {"a": {"x": 2}}
    assert not cache.exists()


def test_an_abandoned_scan_writes_nothing(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    fill(scene, {}, 40)
    settle(scene)
    cache = tmp_path / "cache"
    records = cached(scene, cache).scan()
    next(records)
    records.close()
    assert manifests(cache) == []
    assert not (cache_entry(cache) / PART_FOLDER).exists()


def test_an_unchanged_store_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    fill(scene, {}, 40)
    settle(scene)
    cache = tmp_path / "cache"
    list(cached(scene, cache).scan())
    before = everything_in(cache)
    list(cached(scene, cache).scan())
    assert everything_in(cache) == before


# -- concurrency ------------------------------------------------------------------------


def test_concurrent_scans_share_one_cache(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 200)
    settle(scene)
    cache = tmp_path / "cache"
    failures: list[BaseException] = []
    stop = time.monotonic() + 3

    def reader() -> None:
        try:
            while time.monotonic() < stop:
                tracker = cached(scene, cache)
                records = list(tracker.scan())
                # Keys are only rewritten with the same results: any scan equals the model.
                assert as_model(records) == model
        except BaseException as error:
            failures.append(error)

    def writer() -> None:
        number = 0
        tracker = scene.tracker()
        while time.monotonic() < stop:
            key = f"exp/{number % 200:05d}"
            tracker.put(key, **model[key])  # atomic: readers never see half a file
            number += 1
            time.sleep(0.01)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]
    # Whatever the interleaving, what the cache holds is sound.
    store = LocalFiles(str(cache_entry(cache)))
    assert snapshot_problems(store, "") == []
    assert not [path for path in everything_in(cache) if path.name.startswith(TEMP_PREFIX)]
    settle(scene)
    list(cached(scene, cache).scan())
    last = cached(scene, cache)
    reads = count_reads(last)
    assert as_model(last.scan()) == model
    assert reads[0] == 0


def test_cache_entry_names_are_digests() -> None:
    name = SnapshotCache.entry_name("s3|http://127.0.0.1:9000|bucket/base")
    assert len(name) == 32
    assert int(name, 16) >= 0


def test_the_first_poll_of_a_feed_goes_through_the_cache_on_s3(s3: Scene, tmp_path: Path) -> None:
    model: Model = {}
    fill(s3, model, 1050)
    cache = tmp_path / "cache"
    assert as_model(cached(s3, cache).scan()) == model  # leaves the snapshot
    s3.put_raw(model, "exp/00003", {"loss": -1.0})
    s3.counting.reset()  # type: ignore[union-attr]
    feed = cached(s3, cache).watch()
    changes = feed.poll()
    assert s3.counts() == {"LIST": 2, "GET": 1}
    assert feed.last_read == 1
    assert {change.key: change.record.results for change in changes if change.record} == model
    # The first poll refreshed the cache: a scan (the dashboard's reload, `report`)
    # reads nothing.
    s3.counting.reset()  # type: ignore[union-attr]
    assert as_model(cached(s3, cache).scan()) == model
    assert s3.counts() == {"LIST": 2}


def test_prefix_scans_neither_pile_up_nor_leave_one_snapshot_per_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "CACHE_GRACE_SECONDS", 0.0)
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    cache = tmp_path / "cache"
    assert as_model(cached(scene, cache).scan("exp")) == model
    (exp_manifest,) = manifests(cache)
    scene.put_raw(model, "exp/00001", {"loss": -1.0})
    settle(scene)
    time.sleep(0.01)  # a later millisecond in the new snapshot's name
    assert as_model(cached(scene, cache).scan()) == model
    # The whole store's snapshot covers the prefix's, which is removed.
    (whole,) = manifests(cache)
    assert whole != exp_manifest
    # Nothing new under the prefix: its scans go through the whole store's
    # snapshot and write nothing.
    tracker = cached(scene, cache)
    reads = count_reads(tracker)
    assert as_model(tracker.scan("exp")) == model
    assert reads[0] == 0
    assert manifests(cache) == [whole]
    # A key read alone (a dashboard's record view) after it changed is read,
    # and leaves no snapshot of its own.
    scene.put_raw(model, "exp/00002", {"loss": -2.0})
    settle(scene)
    for _ in range(2):
        tracker = cached(scene, cache)
        reads = count_reads(tracker)
        assert as_model(tracker.scan("exp/00002")) == {"exp/00002": model["exp/00002"]}
        assert reads[0] == 1
    assert manifests(cache) == [whole]


def test_cached_scans_equal_the_plain_scan_on_every_store(scene: Scene, tmp_path: Path) -> None:
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    cache = tmp_path / "cache"
    assert as_model(cached(scene, cache).scan()) == model
    assert len(manifests(cache)) == 1
    scene.put_raw(model, "exp/00003", {"loss": -1.0})
    scene.raw_delete("exp/00004")
    del model["exp/00004"]
    settle(scene)
    tracker = cached(scene, cache)
    reads = count_reads(tracker)
    records = list(tracker.scan())
    assert reads[0] == 1
    assert as_model(records) == model
    assert records == plain_records(tracker)
    again = cached(scene, cache)
    reads = count_reads(again)
    assert as_model(again.scan()) == model
    assert reads[0] == 0
