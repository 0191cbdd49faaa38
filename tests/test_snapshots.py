"""Version tags, snapshots in the store and scans through them (issue 13).

Every result is compared with a model the test keeps itself (a dict of what was
written), and with a plain scan that reads every document; writers go around
the library (plain file writes in place, boto3, torchx) as well as through it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

from resulttracker import FsspecResultTracker, InvalidKeyError
from resulttracker.backends.local_versions import RACY_SECONDS
from resulttracker.snapshot import MANIFEST_FOLDER, PART_FOLDER

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


def settle(scene: Scene) -> None:
    """On a folder, wait until what was just written is no longer racily clean,
    so that a snapshot trusts it (on S3 versions are ETags: nothing to wait for)."""
    if scene.name == "local":
        time.sleep(RACY_SECONDS + 0.2)


def same_length_variant(data: bytes) -> bytes:
    """``data`` with its last digit changed: a different document of the same size."""
    for index in range(len(data) - 1, -1, -1):
        if chr(data[index]).isdigit():
            digit = (data[index] - 48 + 1) % 10 + 48
            return data[:index] + bytes([digit]) + data[index + 1 :]
    raise AssertionError("no digit")


# -- reserved names --------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [".resulttracker", "a/.resulttracker/b", ".resulttracker-x/y", "exp/.resulttrackers"]
)
def test_reserved_names_are_refused_and_nothing_is_written(tmp_path: Path, bad: str) -> None:
    tracker = FsspecResultTracker(tmp_path / "base")
    with pytest.raises(InvalidKeyError, match="reserved for the store's own files"):
        tracker.put(bad, x=1)
    with pytest.raises(InvalidKeyError, match=r"\.resulttracker"):
        tracker.get(bad)
    with pytest.raises(InvalidKeyError, match=r"\.resulttracker"):
        list(tracker.scan(bad))
    assert not list(tmp_path.rglob("*"))


def test_snapshot_files_are_hidden_from_every_listing(
    scene: Scene, tmp_path_factory: pytest.TempPathFactory
) -> None:
    output = tmp_path_factory.mktemp("export") / "out.jsonl"
    model: Model = {}
    fill(scene, model, 40)
    tracker = scene.tracker()
    tracker.compact()
    tracker.compact("exp")
    assert list(tracker.keys()) == sorted(model)
    assert list(tracker.keys("exp")) == sorted(model)
    assert len(tracker) == len(model)
    report = tracker.check()
    assert report.checked == len(model)
    assert report.ok
    assert report.snapshot is not None
    assert tracker.export(output) == len(model)
    exported = [json.loads(line)["key"] for line in output.read_text().splitlines()]
    assert exported == sorted(model)
    # A tracker based one level up sees the snapshot folder inside "base" as no key.
    parent = FsspecResultTracker(scene.base.rpartition("/")[0], **scene.options)
    assert list(parent.keys()) == sorted(f"base/{key}" for key in model)


# -- version tags -----------------------------------------------------------------------


def test_versions_come_from_listings_and_reads_agree(scene: Scene) -> None:
    model: Model = {}
    scene.put_raw(model, "a", {"x": 1})
    scene.put_raw(model, "b/c", {"x": 2})
    store = scene.tracker().store
    assert store.versions
    if scene.name == "local":
        # Just written: the read cannot vouch for its version yet (racily clean).
        assert store.read_versioned("a").version is None
    settle(scene)
    listed = {entry.key: entry for entry in store.list_versions("")}
    assert set(listed) == {"a", "b/c"}
    read = store.read_versioned("a")
    assert read.document == json.dumps(model["a"], indent=2).encode()
    assert read.version is not None
    assert read.version == listed["a"].version
    scene.put_raw(model, "a", {"x": 3})
    assert {entry.key: entry for entry in store.list_versions("")}["a"].version != read.version
    scene.raw_delete("a")
    assert store.read_versioned("a") == (None, None, None)
    assert [entry.key for entry in store.list_versions("")] == ["b/c"]


def test_a_snapshot_scan_reads_only_changed_keys_on_s3(counting_s3: CountingS3) -> None:
    scene = s3_scene(counting_s3)
    model: Model = {}
    fill(scene, model, 1050)  # two LIST pages
    tracker = scene.tracker()
    counting_s3.reset()
    assert as_model(tracker.scan()) == model
    # Without a snapshot: today's cost, LISTs and one GET per key (the listing of
    # every key shows whether the reserved folder holds a snapshot).
    assert scene.counts() == {"LIST": 2, "GET": 1050}
    report = tracker.compact()
    assert (report.keys, report.read) == (1050, 1050)
    counting_s3.reset()
    records = list(scene.tracker().scan())
    assert as_model(records) == model
    # The LISTs of the keys, the manifest and its one part.
    assert scene.counts() == {"LIST": 2, "GET": 2}
    scene.put_raw(model, "exp/00003", {"loss": -1.0})
    scene.put_raw(model, "exp/new", {"loss": 0.5})
    scene.raw_delete("exp/00004")
    del model["exp/00004"]
    counting_s3.reset()
    fresh = scene.tracker()
    records = list(fresh.scan())
    assert as_model(records) == model
    assert scene.counts() == {"LIST": 2, "GET": 2 + 2}
    # A scan of a prefix lists the reserved folder in one more request.
    counting_s3.reset()
    assert as_model(fresh.scan("exp")) == model
    assert scene.counts() == {"LIST": 3, "GET": 2 + 2}
    assert records == plain_records(fresh)
    # An incremental compaction reads only the changed keys too.
    assert fresh.compact().read == 2


# -- scans through a snapshot give the plain scan's results ------------------------------


def test_scan_after_compact_equals_the_model_and_the_plain_scan(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 60)
    settle(scene)
    tracker = scene.tracker()
    report = tracker.compact()
    assert (report.keys, report.read, report.prefix) == (60, 60, "")
    assert report.bytes > 0
    assert report.seconds >= 0
    scene.put_raw(model, "exp/00003", {"loss": -1.0})
    scene.raw_delete("exp/00004")
    del model["exp/00004"]
    scene.put_raw(model, "exp/new", {"loss": 0.25})
    tracker.put("exp/00005", loss=5.5)
    model["exp/00005"] = {"loss": 5.5}
    fresh = scene.tracker()
    records = list(fresh.scan())
    assert as_model(records) == model
    assert [record.key for record in records] == sorted(model)
    assert records == plain_records(fresh)  # modification times included
    assert as_model(fresh.scan("exp/00001")) == {"exp/00001": model["exp/00001"]}
    assert fresh.best("loss").key == "exp/00003"
    assert as_model(fresh.select(where="loss > 8")) == {
        key: value for key, value in model.items() if value["loss"] > 8
    }


def test_same_size_rewrite_with_the_mtime_put_back_is_seen(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 30)
    settle(scene)
    tracker = scene.tracker()
    tracker.compact()
    path = Path(scene.base) / "exp/00007"
    before = os.stat(path)
    new = same_length_variant(path.read_bytes())
    with open(path, "r+b") as file:  # in place: same inode, same size
        file.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    model["exp/00007"] = json.loads(new)
    assert as_model(scene.tracker().scan()) == model


def test_rewrites_in_the_same_instant_as_the_snapshot(tmp_path: Path) -> None:
    """A writer rewrites keys in place (same size, mtime put back) while compactors
    run and right after they finish; every scan afterwards matches the files."""
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 80)
    root = Path(scene.base)
    stop = threading.Event()
    lock = threading.Lock()

    def rewrite_forever() -> None:
        number = 0
        while not stop.is_set():
            key = f"exp/{number % 80:05d}"
            path = root / key
            with lock:
                before = os.stat(path)
                new = same_length_variant(path.read_bytes())
                with open(path, "r+b") as file:
                    file.write(new)
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
                model[key] = json.loads(new)
            number += 7

    writer = threading.Thread(target=rewrite_forever)
    writer.start()
    try:
        for _ in range(3):
            scene.tracker().compact(grace=0)
    finally:
        stop.set()
        writer.join()
    with lock:
        expected = dict(model)
    assert as_model(scene.tracker().scan()) == expected
    # Right after a compaction, in the same instant: rewrite and scan again.
    tracker = scene.tracker()
    tracker.compact()
    path = root / "exp/00011"
    before = os.stat(path)
    new = same_length_variant(path.read_bytes())
    with open(path, "r+b") as file:
        file.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    expected["exp/00011"] = json.loads(new)
    assert as_model(scene.tracker().scan()) == expected


def test_torchx_writing_in_place_is_seen(tmp_path: Path) -> None:
    base = tmp_path / "base"
    torchx = TorchxTracker(str(base))
    model: Model = {}
    for number in range(30):
        torchx[f"exp/{number}"] = {"loss": float(number)}
        model[f"exp/{number}"] = {"loss": float(number)}
    time.sleep(RACY_SECONDS + 0.2)
    tracker = FsspecResultTracker(base)
    assert tracker.compact().keys == 30
    torchx["exp/3"] = {"loss": 4.0}  # same size as before
    torchx["exp/31"] = {"loss": 31.0}
    model["exp/3"] = {"loss": 4.0}
    model["exp/31"] = {"loss": 31.0}
    assert as_model(FsspecResultTracker(base).scan()) == model
    # and torchx still reads what resulttracker writes beside a snapshot
    tracker.put("exp/40", loss=0.5)
    assert torchx["exp/40"] == {"loss": 0.5}


def test_delete_and_recreate(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 40)
    settle(scene)
    scene.tracker().compact()
    scene.raw_delete("exp/00002")
    scene.put_raw(model, "exp/00002", {"loss": 1234.5, "seed": 2})
    scene.raw_delete("exp/00009")
    del model["exp/00009"]
    assert as_model(scene.tracker().scan()) == model


def test_corrupt_keys_stay_corrupt_through_a_snapshot(scene: Scene) -> None:
    model: Model = {}
    fill(scene, model, 40)
    scene.raw_write("exp/bad", b"{not json")
    settle(scene)
    tracker = scene.tracker()
    assert tracker.compact().keys == 40  # the corrupt key is left out
    with pytest.raises(Exception, match="exp/bad"):
        list(scene.tracker().scan())
    assert as_model(scene.tracker().scan(on_corrupt="skip")) == model
    assert [error.key for error in scene.tracker().check().corrupt] == ["exp/bad"]


# -- damaged, foreign, old and concurrent snapshots ----------------------------------------


def manifests_in(root: Path) -> list[Path]:
    """The snapshot manifests in the folder store at ``root``."""
    folder = root / MANIFEST_FOLDER
    return sorted(folder.iterdir()) if folder.exists() else []


def _parts(root: Path) -> list[Path]:
    folder = root / PART_FOLDER
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


@pytest.mark.parametrize("damage", ["truncated part", "flipped manifest", "missing part"])
def test_a_damaged_snapshot_is_ignored_reported_and_removed(tmp_path: Path, damage: str) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 50)
    settle(scene)
    tracker = scene.tracker()
    tracker.compact()
    root = Path(scene.base)
    (manifest,) = manifests_in(root)
    (part,) = _parts(root)
    if damage == "truncated part":
        part.write_bytes(part.read_bytes()[:-10])
    elif damage == "missing part":
        part.unlink()
    else:
        data = bytearray(manifest.read_bytes())
        data[data.index(b'"keys": 50') + 9] = ord("1")
        manifest.write_bytes(bytes(data))
    scene.put_raw(model, "exp/00001", {"loss": 99.0})
    assert as_model(scene.tracker().scan()) == model
    report = scene.tracker().check()
    assert report.snapshot_problems
    assert not report.ok
    assert manifest.name.removesuffix(".json") in " ".join(report.snapshot_problems) or damage != (
        "flipped manifest"
    )
    fixed = scene.tracker().check(fix=True)
    assert fixed.ok
    assert fixed.removed
    assert manifests_in(root) == []
    assert scene.tracker().check().ok
    assert as_model(scene.tracker().scan()) == model


@pytest.mark.parametrize("kind", ["garbage", "bad checksum", "newer format", "lying part"])
def test_foreign_snapshots_are_never_trusted(tmp_path: Path, kind: str) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 50)
    settle(scene)
    tracker = scene.tracker()
    tracker.compact()
    root = Path(scene.base)
    (manifest,) = manifests_in(root)
    body = json.loads(manifest.read_bytes())
    # A "newer" snapshot: its name sorts after the real one.
    newer_id = "all-9999999999999-0123456789abcdef"
    newer = root / MANIFEST_FOLDER / f"{newer_id}.json"
    if kind == "garbage":
        newer.write_bytes(b"\x00\x01 not a manifest")
    elif kind == "bad checksum":
        body["id"] = newer_id
        newer.write_text(json.dumps(body))
    elif kind == "newer format":
        body["version"] = 2
        newer.write_text(json.dumps(body))
    else:
        # A part that says loss is 0 everywhere, under the real snapshot's name,
        # with a manifest checksum that no longer matches the part.
        (part,) = _parts(root)
        import gzip

        lines = gzip.decompress(part.read_bytes()).decode().splitlines()
        lied = [
            json.dumps([key, version, {"loss": 0}]) for key, version, _ in map(json.loads, lines)
        ]
        part.write_bytes(gzip.compress(("\n".join(lied) + "\n").encode()))
    assert as_model(scene.tracker().scan()) == model
    assert scene.tracker().check().snapshot_problems


def test_concurrent_compactors_and_writers(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 60)
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        tracker = scene.tracker()
        number = 0
        while not stop.is_set():
            key = f"exp/{number % 70:05d}"
            with lock:
                if number % 5 == 4 and key in model:
                    tracker.delete(key)
                    del model[key]
                else:
                    tracker.put(key, loss=number * 0.5)
                    model[key] = {"loss": number * 0.5}
            number += 3

    def compactor() -> None:
        try:
            for _ in range(3):
                scene.tracker().compact(grace=0.5)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=compactor) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads[1:]:
        thread.join()
    stop.set()
    threads[0].join()
    assert not failures
    tracker = scene.tracker()
    assert as_model(tracker.scan()) == model
    assert list(tracker.scan()) == plain_records(tracker)
    assert tracker.check().ok


def test_superseded_snapshots_and_orphan_parts_are_removed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 20)
    settle(scene)
    root = Path(scene.base)
    tracker = scene.tracker()
    for _ in range(3):
        tracker.compact()
    assert len(manifests_in(root)) == 3  # all younger than the grace period
    # A compactor that died after writing a part, long ago.
    orphan = root / PART_FOLDER / "all-0000000000001-00000000000000aa" / "00000.jsonl.gz"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left behind")
    os.utime(orphan, (1, 1))
    report = tracker.compact(grace=0)
    assert report.removed == 3
    assert [path.name for path in manifests_in(root)] == [report.name.rpartition("/")[2]]
    assert not orphan.exists()
    assert len(_parts(root)) == 1
    assert as_model(scene.tracker().scan()) == model


def test_a_snapshot_of_a_prefix_serves_scans_under_it(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 40, prefix="exp1")
    fill(scene, model, 40, prefix="exp2")
    settle(scene)
    tracker = scene.tracker()
    report = tracker.compact("exp1")
    assert (report.prefix, report.keys) == ("exp1", 40)
    scene.put_raw(model, "exp1/00002", {"loss": -2.0})
    expected = {key: value for key, value in model.items() if key.startswith("exp1/")}
    assert as_model(scene.tracker().scan("exp1")) == expected
    assert as_model(scene.tracker().scan()) == model


def test_stores_without_version_tags_cannot_compact() -> None:
    tracker = FsspecResultTracker("memory://no-versions/base")
    tracker.put("a", x=1)
    with pytest.raises(NotImplementedError, match="no version tags"):
        tracker.compact()
    assert as_model(tracker.scan()) == {"a": {"x": 1}}


def test_a_snapshot_in_many_parts_fetched_ahead(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resulttracker import snapshot

    monkeypatch.setattr(snapshot, "PART_RAW_BYTES", 600)
    model: Model = {}
    fill(scene, model, 120)
    settle(scene)
    report = scene.tracker().compact()
    assert report.keys == 120
    manifest = snapshot.find_snapshot(scene.tracker().store, "")
    assert manifest is not None
    assert len(manifest.parts) > 10
    scene.put_raw(model, "exp/00050", {"loss": -50.0})
    if scene.counting is not None:
        scene.counting.reset()
    assert as_model(scene.tracker().scan()) == model
    if scene.counting is not None:  # the manifest, every part, the changed key
        assert scene.counts() == {"LIST": 1, "GET": 1 + len(manifest.parts) + 1}
    assert as_model(scene.tracker().scan("exp")) == model
    # A middle part gone: its keys are read, the others still come from the snapshot.
    scene.tracker().store.delete(manifest.parts[5].name)
    assert as_model(scene.tracker().scan()) == model
    assert scene.tracker().check().snapshot_problems


def test_the_folder_lists_versions_in_code_point_order(tmp_path: Path) -> None:
    scene = local_scene(tmp_path)
    model: Model = {}
    keys = ["a-b", "a/b", "a/b-c/d", "a/b.c", "a.b", "a0", "A", "é/x", "z", "a/bb/c", "ab", "~"]
    for number, key in enumerate(keys):
        scene.put_raw(model, key, {"n": number})
    store = scene.tracker().store
    assert [entry.key for entry in store.list_versions("")] == sorted(keys)
    assert [entry.key for entry in store.list_versions("a")] == sorted(
        key for key in keys if key.startswith("a/")
    )
    settle(scene)
    scene.tracker().compact()
    records = list(scene.tracker().scan())
    assert [record.key for record in records] == sorted(keys)
    assert as_model(records) == model


def test_network_file_systems_are_recognised_from_the_mount_table() -> None:
    from resulttracker.backends.local_versions import mount_type, on_network_file_system

    mounts = (
        "/dev/vda / ext4 rw,relatime 0 0\n"
        "server:/export /mnt/shared nfs4 rw,relatime,vers=4.2 0 0\n"
        "//host/share /mnt/with\\040space cifs rw 0 0\n"
        "tmpfs /mnt/shared/tmp tmpfs rw 0 0\n"
    )
    assert mount_type("/home/user/results", mounts) == "ext4"
    assert mount_type("/mnt/shared/exp1", mounts) == "nfs4"
    assert mount_type("/mnt/shared", mounts) == "nfs4"
    assert mount_type("/mnt/sharedother", mounts) == "ext4"
    assert mount_type("/mnt/shared/tmp/x", mounts) == "tmpfs"
    assert mount_type("/mnt/with space/x", mounts) == "cifs"
    assert on_network_file_system("/tmp") is False  # this machine's disk


def test_a_revalidating_listing_gives_the_same_versions(tmp_path: Path) -> None:
    from resulttracker.backends.local import LocalFiles

    scene = local_scene(tmp_path)
    model: Model = {}
    fill(scene, model, 20)
    files = LocalFiles(scene.base)
    assert list(files.list_versions_checked("", revalidate=True)) == list(
        files.list_versions_checked("", revalidate=False)
    )
    assert list(files.list_versions_checked("exp/00003", revalidate=True)) == list(
        scene.tracker().store.list_versions("exp/00003")
    )
