"""Object-store specifics, on every object store (real servers on loopback): missing
buckets, folder markers, names that are not keys, trackers inherited through fork."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner

from resulttracker import CorruptResultError, FsspecResultTracker, ResultTracker, StoreError, cli
from resulttracker.validation import KeyType, Results, ResultType

from .conftest import StoreHarness

# -- a missing bucket ------------------------------------------------------------------

MISSING_BUCKET_CALLS: dict[str, Callable[[FsspecResultTracker], object]] = {
    "get": lambda tracker: tracker.get("k"),
    "getitem": lambda tracker: tracker["a/b"],
    "contains": lambda tracker: "k" in tracker,
    "get_many": lambda tracker: tracker.get_many(["k", "j"]),
    "keys": lambda tracker: list(tracker.keys()),
    "keys_prefix": lambda tracker: list(tracker.keys("exp")),
    "len": len,
    "scan": lambda tracker: list(tracker.scan()),
    "items": lambda tracker: list(tracker.items("exp")),
    "check": lambda tracker: tracker.check(),
    "delete": lambda tracker: tracker.delete("k"),
    "wait": lambda tracker: tracker.wait("k", timeout=0),
    "put": lambda tracker: tracker.put("k", x=1),
    "setitem": lambda tracker: tracker.__setitem__("exp/k", {"x": 1}),
}


@pytest.mark.parametrize("operation", sorted(MISSING_BUCKET_CALLS))
def test_a_missing_bucket_is_an_error_naming_it_and_is_never_created(
    object_store: StoreHarness, operation: str
) -> None:
    assert object_store.raw_containers is not None
    base = object_store.missing_container_base()
    bucket = base.split("://", 1)[1].split("/", 1)[0]
    tracker = object_store.new_tracker(base)
    before = object_store.raw_containers()
    assert bucket not in before
    with pytest.raises(StoreError) as caught:
        MISSING_BUCKET_CALLS[operation](tracker)  # type: ignore[arg-type]
    message = str(caught.value)
    assert re.search(rf"\b(bucket|container) '{re.escape(bucket)}' does not exist", message)
    assert repr(base) in message  # the store, as given (it holds no credentials here)
    for secret in object_store.options.values():
        if isinstance(secret, str) and not secret.startswith("http"):
            assert secret not in message
    assert object_store.raw_containers() == before  # nothing created, nothing written
    assert object_store.raw_names() == set()
    assert tracker.exists() is False


def test_exists_tells_a_missing_bucket_from_an_empty_base(object_store: StoreHarness) -> None:
    assert object_store.tracker.exists() is True  # the bucket exists; nothing written yet
    object_store.tracker["k"] = {"x": 1}
    assert object_store.tracker.exists() is True
    missing = object_store.new_tracker(object_store.missing_container_base())
    assert missing.exists() is False
    assert object_store.raw_names() == {"base/k"}


def test_exists_on_a_folder_memory_and_a_plain_tracker(tmp_path: Any) -> None:
    folder = FsspecResultTracker(tmp_path / "base")
    assert folder.exists() is False
    folder["k"] = {"x": 1}
    assert folder.exists() is True
    (tmp_path / "file").write_text("")
    assert FsspecResultTracker(tmp_path / "file").exists() is False
    memory = FsspecResultTracker(f"memory://exists-{os.getpid()}/base")
    assert memory.exists() is False
    memory["k"] = {"x": 1}
    assert memory.exists() is True

    class Plain(ResultTracker):
        def put(self, key: KeyType, /, **results: ResultType) -> None: ...

        def get(self, key: KeyType) -> Results:
            return {}

    assert Plain().exists() is True


def test_the_command_line_names_a_missing_bucket(object_store: StoreHarness) -> None:
    base = object_store.missing_container_base()
    bucket = base.split("://", 1)[1].split("/", 1)[0]
    options = [f"-o{name}={value}" for name, value in object_store.options.items()]
    for command in (["ls"], ["put", "k", "x=1"], ["get", "k"]):
        result = CliRunner().invoke(cli.cli, ["--base", base, *options, *command])
        assert result.exit_code != 0, (command, result.output)
        # The library names the bucket; reading commands name the base holding it.
        assert bucket in result.stderr, (command, result.stderr)
        assert "does not exist" in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr
    assert object_store.raw_containers is not None
    assert bucket not in object_store.raw_containers()


def test_an_export_to_a_missing_bucket_names_it_and_creates_nothing(
    object_store: StoreHarness, tmp_path: Any
) -> None:
    source = FsspecResultTracker(tmp_path / "source")
    source["a"] = {"x": 1}
    base = object_store.missing_container_base()
    bucket = base.split("://", 1)[1].split("/", 1)[0]
    destination = base + "/out.csv"
    with pytest.raises(StoreError, match=rf"'{bucket}' does not exist") as caught:
        source.export(destination, storage_options=object_store.options)
    assert repr(destination) in str(caught.value)
    assert object_store.raw_containers is not None
    assert bucket not in object_store.raw_containers()
    # The bucket that exists takes it, in one piece.
    assert source.export(object_store.base + "/out.csv", storage_options=object_store.options)
    assert (
        object_store.raw_read(
            "out.csv",
        )
        is not None
    )


# -- folder markers and other names that are not keys ----------------------------------


def test_folder_markers_and_names_that_are_not_keys_are_not_listed(
    object_store: StoreHarness,
) -> None:
    tracker = object_store.tracker
    tracker["exp/k1"] = {"x": 1}
    tracker["top"] = {"x": 2}
    # What consoles and other tools leave: zero-byte "folder/" markers (the base's
    # own included), a "folder/" object with content, names no key can have.
    for name, data in [
        ("", b""),
        ("exp/", b""),
        ("empty/", b""),
        ("deep/er/", b""),
        ("hadoop_$folder$", b""),
        ("withcontent/", b'{"x": 3}'),
        ("a//b", b'{"x": 4}'),
        ("./dot", b'{"x": 5}'),
        ("exp/.rttmp-123-abc", b'{"x": 6}'),
    ]:
        try:
            object_store.raw_write(name, data)
        except Exception:  # Azure's client cannot send a "./" segment
            assert name == "./dot"
            assert object_store.name == "azure"
    stored = {name.removeprefix("base/") for name in object_store.raw_names()}
    assert {"exp/", "withcontent/", "a//b"} <= stored  # kept as sent
    expected = ["exp/k1", "top"]
    assert list(tracker.keys()) == expected
    assert len(tracker) == len(expected)
    assert [record.key for record in tracker.scan()] == expected
    assert list(tracker.keys("exp")) == ["exp/k1"]
    assert list(tracker.keys("empty")) == []
    assert list(tracker.keys("withcontent")) == []
    report = tracker.check()
    assert (report.checked, report.corrupt, report.ok) == (len(expected), [], True)
    assert tracker.get("exp") == {}
    assert tracker.get("withcontent") == {}
    assert tracker.delete("exp") is False
    assert tracker.delete("withcontent") is False
    assert object_store.raw_read("withcontent/") == b'{"x": 3}'  # not touched
    result = CliRunner().invoke(
        cli.cli,
        [
            "--base",
            object_store.base,
            *[f"-o{name}={value}" for name, value in object_store.options.items()],
            "ls",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == expected


# -- fork ------------------------------------------------------------------------------


def _child_puts_and_gets(tracker: FsspecResultTracker, number: int) -> None:
    tracker[f"child/{number}"] = {"pid": os.getpid(), "number": number}
    assert tracker[f"child/{number}"]["number"] == number
    assert tracker["parent"] == {"x": 1}
    assert f"child/{number}" in list(tracker.keys("child"))


def _wait_for(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish within {timeout} s")


def test_a_tracker_made_before_os_fork_works_in_the_children(object_store: StoreHarness) -> None:
    tracker = object_store.tracker
    assert isinstance(tracker, FsspecResultTracker)
    tracker["parent"] = {"x": 1}  # the file system, its event loop and session are live
    children = []
    for number in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                _child_puts_and_gets(tracker, number)
                code = 0
            except BaseException as error:
                os.write(2, f"child {number}: {type(error).__name__}: {error}\n".encode())
            finally:
                os._exit(code)
        children.append(pid)
    assert [_wait_for(pid, 60) for pid in children] == [0, 0, 0]
    # The parent's tracker still works, and sees what the children wrote.
    assert list(tracker.keys("child")) == ["child/0", "child/1", "child/2"]
    assert [tracker[f"child/{n}"]["number"] for n in range(3)] == [0, 1, 2]
    tracker["parent"] = {"x": 2}
    assert tracker["parent"] == {"x": 2}


def _pool_task(number: int) -> int:
    _child_puts_and_gets(_inherited, number)
    return os.getpid()


_inherited: Any = None


def test_a_tracker_made_before_a_fork_pool_works_in_its_workers(
    object_store: StoreHarness,
) -> None:
    global _inherited
    tracker = object_store.tracker
    tracker["parent"] = {"x": 1}
    _inherited = tracker
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            pids = pool.map_async(_pool_task, range(6)).get(timeout=120)
    finally:
        _inherited = None
    assert os.getpid() not in pids
    assert len(list(tracker.keys("child"))) == 6
    assert tracker.get_many(f"child/{n}" for n in range(6))["child/5"]["number"] == 5


# -- torchx reads what resulttracker wrote, and the other way round --------------------

TORCHX_RESULTS: dict[str, int | float | str] = {
    "l2norm/mean": 1.2,
    "epochs": 10,
    "done": True,
    "nan": float("nan"),
    "note": "ünïcode ✓",
}


@pytest.fixture
def torchx_sees(object_store: StoreHarness, monkeypatch: pytest.MonkeyPatch) -> StoreHarness:
    """torchx opens its bases with fsspec alone: hand it the store's options through
    fsspec's configuration, as a torchx user would."""
    import fsspec.config

    protocol = object_store.base.split("://")[0]
    monkeypatch.setitem(fsspec.config.conf, protocol, dict(object_store.options))
    if protocol == "gs":
        # fsspec's default "gs" file system looks each bucket's type up over gRPC
        # first, a 60 s wait per operation off Google's network (torchx users:
        # set GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false); the plain one, as we use.
        from gcsfs.core import GCSFileSystem

        registry = sys.modules["fsspec.registry"]._registry
        monkeypatch.setitem(registry, "gs", GCSFileSystem)
    return object_store


def _same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert type(got[name]) is type(value)
        assert got[name] == value or (value != value and got[name] != got[name])  # NaN


@pytest.mark.filterwarnings("ignore:from fsspec 2023.5 onward FSMap:DeprecationWarning")
def test_torchx_reads_what_resulttracker_wrote_and_back(torchx_sees: StoreHarness) -> None:
    from torchx.runtime.tracking import FsspecResultTracker as TorchxTracker

    store = torchx_sees
    theirs = TorchxTracker(store.base)
    store.tracker["exp/trial1"] = TORCHX_RESULTS
    _same(theirs["exp/trial1"], TORCHX_RESULTS)
    theirs[7] = TORCHX_RESULTS
    _same(store.tracker[7], TORCHX_RESULTS)
    assert list(store.tracker.keys()) == ["7", "exp/trial1"]
    assert store.raw_names() == {"base/7", "base/exp/trial1"}
    assert theirs["missing"] == store.tracker["missing"] == {}


# -- speed: no control-plane detour, concurrent bounded bulk reads ---------------------


def test_a_fresh_gcs_tracker_answers_at_once(
    gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gcsfs's default file system would first ask a gRPC control plane for the
    # bucket's type, unreachable here: a 60 s wait per operation. Not ours.
    monkeypatch.delenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", raising=False)
    store = _harness_for("gcs", gcs_endpoint)
    started = time.monotonic()
    tracker = FsspecResultTracker(store.base, skip_instance_cache=True, **store.options)
    tracker["k"] = {"x": 1}
    assert tracker["k"] == {"x": 1}
    assert list(tracker.keys()) == ["k"]
    assert tracker.exists()
    assert tracker.delete("k")
    assert time.monotonic() - started < 5


def _harness_for(name: str, endpoint: str) -> StoreHarness:
    from .conftest import azure_harness, gcs_harness

    return gcs_harness(endpoint) if name == "gcs" else azure_harness(endpoint)


@pytest.mark.parametrize("name", ["gcs", "azure"])
def test_bulk_reads_of_many_keys_are_concurrent_bounded_and_fast(
    name: str, request: pytest.FixtureRequest
) -> None:
    from .conftest import azure_options, gcs_options
    from .faulty_proxy import FaultyProxy

    endpoint = request.getfixturevalue(f"{name}_endpoint")
    store = _harness_for(name, endpoint)
    port = int(endpoint.split(":")[2].split("/")[0])
    proxy = FaultyProxy(port)  # counts the connections open at once
    proxy.start()
    try:
        through = endpoint.replace(f":{port}", f":{proxy.port}")
        options = gcs_options(through) if name == "gcs" else azure_options(through)
        tracker = FsspecResultTracker(store.base, skip_instance_cache=True, **options)
        keys = [f"t/{number:03d}" for number in range(160)]
        for number, key in enumerate(keys):
            store.raw_write(key, json.dumps({"n": number}).encode())
        started = time.monotonic()
        got = tracker.get_many(keys)
        assert [results["n"] for results in got.values()] == list(range(160))
        assert [record.results["n"] for record in tracker.scan("t")] == list(range(160))
        elapsed = time.monotonic() - started
        assert 1 < proxy.most_open_connections <= 64 + 2  # the reads' limit, and a listing
        assert elapsed < 15, elapsed
    finally:
        proxy.stop()


def test_a_base_at_the_top_of_a_bucket(object_store: StoreHarness) -> None:
    top = object_store.new_tracker(object_store.base.rsplit("/", 1)[0])
    assert top.exists()
    top["k"] = {"x": 1}
    object_store.tracker["inner"] = {"x": 2}  # the key "base/inner" seen from the top
    object_store.raw_write("", b"")  # a "base/" folder marker
    assert list(top.keys()) == ["base/inner", "k"]
    assert [record.key for record in top.scan("base")] == ["base/inner"]
    assert top["base/inner"] == {"x": 2}
    assert top.delete("k")
    assert not top.delete("base")
    assert list(top.keys()) == ["base/inner"]


def test_locations_in_messages_use_the_scheme_of_the_base(object_store: StoreHarness) -> None:
    object_store.raw_write("bad", b"[not results")
    with pytest.raises(CorruptResultError) as caught:
        object_store.tracker.get("bad")
    assert f"{object_store.base}/bad" in str(caught.value)  # az://…, not abfs://…


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T11:35:40.74443Z", datetime(2026, 12, 1, 11, 35, 40, 744430, timezone.utc)),
        ("2026-12-01T11:35:40Z", datetime(2026, 12, 1, 11, 35, 40, tzinfo=timezone.utc)),
        (
            "2026-12-01T11:35:40.123456789+02:00",
            datetime(2026, 12, 1, 9, 35, 40, 123456, timezone.utc),
        ),
        ("", None),
        ("yesterday", None),
    ],
)
def test_gcs_timestamps_of_any_precision_are_read(text: str, expected: datetime | None) -> None:
    from resulttracker.backends._object_stores import rfc3339

    assert rfc3339(text) == expected


def test_scans_carry_the_stores_modification_times(object_store: StoreHarness) -> None:
    before = datetime.now(timezone.utc) - timedelta(minutes=5)
    object_store.tracker["k"] = {"x": 1}
    (record,) = object_store.tracker.scan()
    assert record.modified is not None
    assert before < record.modified < datetime.now(timezone.utc) + timedelta(minutes=5)
