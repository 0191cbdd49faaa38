"""``/api/records`` answers for an unchanged store come from a cache, keyed by the
change log's generation: the same bytes, with no document read and no record
encoded; any change to the store, by any writer, is a new answer; ``ETag`` and
``If-None-Match`` give a ``304``.

Through a real HTTP server on a loopback port, on a local folder whose files are
also written directly (bypassing the tracker and the server).
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker
from resulttracker.backends import local_versions
from resulttracker.web import _records, server
from resulttracker.web.server import ResponseCache

from .test_web import Client, start
from .test_web_hardening import assert_security_headers


@dataclass
class Counts:
    """Calls of what a cached answer must not need: reads of documents, the
    encoding of records, the building and compressing of bodies."""

    reads: int = 0
    listings: int = 0
    encoded: int = 0
    bodies: int = 0
    compressed: int = 0

    def work(self) -> tuple[int, int, int, int]:
        return self.reads, self.encoded, self.bodies, self.compressed


@dataclass
class Dashboard:
    client: Client
    tracker: FsspecResultTracker
    root: Path
    app: Any
    counts: Counts


def _counting(counts: Counts, name: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setattr(counts, name, getattr(counts, name) + 1)
        return function(*args, **kwargs)

    return wrapper


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    """A dashboard on a local folder that looks at the store on every request
    (``min_interval`` 0), with 40 records and its work counted."""
    # A file younger than RACY_SECONDS has no trusted version and is read on every
    # look (its timestamps may not have ticked since). Every change here replaces
    # or adds a file (a new inode), which no timestamp can hide: trust them at once,
    # so that what is counted is the dashboard's reading, not that rule's.
    monkeypatch.setattr(local_versions, "_RACY_NS", 0)
    root = tmp_path / "store"
    tracker = FsspecResultTracker(root)
    for number in range(40):
        tracker[f"exp/{number:02d}"] = {"loss": number / 3, "name": "é" * (number % 4)}
    counts = Counts()
    store = tracker.store
    for method in ("read", "read_many", "read_versioned", "read_many_versioned"):
        monkeypatch.setattr(store, method, _counting(counts, "reads", getattr(store, method)))
    monkeypatch.setattr(
        store,
        "list_versions_and_reserved",
        _counting(counts, "listings", store.list_versions_and_reserved),
    )
    monkeypatch.setattr(
        _records, "encode_record", _counting(counts, "encoded", _records.encode_record)
    )
    monkeypatch.setattr(server, "snapshot_body", _counting(counts, "bodies", server.snapshot_body))
    monkeypatch.setattr(server.gzip, "compress", _counting(counts, "compressed", gzip.compress))
    client, running = start(tracker, refresh=10)
    app = running.get_app()
    app.changes.min_interval = 0
    app.checker.max_age = 0  # every request looks at the store itself
    try:
        yield Dashboard(client, tracker, root, app, counts)
    finally:
        running.shutdown()
        running.server_close()


def decoded(headers: dict[str, str], body: bytes) -> Any:
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


@pytest.mark.parametrize("gzip_ok", [True, False], ids=["gzip", "identity"])
def test_an_unchanged_store_is_answered_from_the_cache_byte_for_byte(
    dashboard: Dashboard, gzip_ok: bool
) -> None:
    client, counts = dashboard.client, dashboard.counts
    first = client.request("GET", "/api/records", gzip_ok=gzip_ok)
    assert first[0] == 200
    assert (first[1].get("content-encoding") == "gzip") is gzip_ok
    assert decoded(first[1], first[2])["count"] == 40
    before = counts.work()
    listings = counts.listings
    second = client.request("GET", "/api/records", gzip_ok=gzip_ok)
    # The store was looked at (listed), but no document read, record encoded,
    # body built or compressed: the bytes are the cached ones.
    assert counts.listings == listings + 1
    assert counts.work() == before
    assert second[2] == first[2]
    assert second[1]["etag"] == first[1]["etag"]
    assert dashboard.app.responses.hits >= 1
    # A fresh answer, built again from the same state, is the same bytes too.
    dashboard.app.responses.clear()
    third = client.request("GET", "/api/records", gzip_ok=gzip_ok)
    assert counts.bodies == before[2] + 1
    assert third[2] == first[2]


def test_an_idle_poll_encodes_nothing_and_is_cached(dashboard: Dashboard) -> None:
    client, counts = dashboard.client, dashboard.counts
    cursor = client.json("/api/records")["cursor"]
    encoded = counts.encoded
    idle = client.request("GET", f"/api/records?since={cursor}")
    assert json.loads(idle[2]) == {
        "cursor": cursor,
        "full": False,
        "count": 40,
        "records": [],
        "removed": [],
        "corrupt": 0,
        "corrupt_keys": [],
    }
    work = counts.work()
    again = client.request("GET", f"/api/records?since={cursor}")
    assert again[2] == idle[2]
    assert counts.work() == work
    assert counts.encoded == encoded  # neither poll encoded a record


def _write_directly(root: Path, key: str, document: dict[str, Any]) -> None:
    """Another writer: the file replaced on disk, not through any tracker."""
    path = root / key
    temporary = path.with_name(".other-writer")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)


@pytest.mark.parametrize("writer", ["file", "tracker"])
def test_a_change_by_another_writer_shows_on_the_next_request(
    dashboard: Dashboard, writer: str
) -> None:
    client = dashboard.client
    full = client.request("GET", "/api/records", gzip_ok=True)
    cursor = decoded(full[1], full[2])["cursor"]
    idle = client.request("GET", f"/api/records?since={cursor}")
    assert json.loads(idle[2])["records"] == []
    if writer == "file":
        _write_directly(dashboard.root, "exp/07", {"loss": 700.0})
        (dashboard.root / "exp/new").write_text('{"loss": 1.5}')
    else:
        other = FsspecResultTracker(dashboard.root)
        other["exp/07"] = {"loss": 700.0}
        other["exp/new"] = {"loss": 1.5}
    polled = client.json(f"/api/records?since={cursor}")
    assert [(r["key"], r["results"]) for r in polled["records"]] == [
        ("exp/07", {"loss": 700.0}),
        ("exp/new", {"loss": 1.5}),
    ]
    assert polled["count"] == 41
    again = client.request("GET", "/api/records", gzip_ok=True)
    assert again[2] != full[2]
    assert again[1]["etag"] != full[1]["etag"]
    records = {r["key"]: r["results"] for r in decoded(again[1], again[2])["records"]}
    assert records["exp/07"] == {"loss": 700.0}
    assert len(records) == 41
    os.remove(dashboard.root / "exp/new")
    assert client.json(f"/api/records?since={polled['cursor']}")["removed"] == ["exp/new"]


def test_each_filter_and_coding_has_its_own_answer(dashboard: Dashboard) -> None:
    client = dashboard.client
    paths = ["/api/records", "/api/records?prefix=exp", "/api/records?where=loss%20%3C%201"]
    answers = {
        (path, gzip_ok): client.request("GET", path, gzip_ok=gzip_ok)
        for path in paths
        for gzip_ok in (True, False)
    }
    counts = [decoded(headers, body)["count"] for _, headers, body in answers.values()]
    assert counts == [40, 40, 40, 40, 3, 3]
    for (path, gzip_ok), (_, headers, body) in answers.items():
        status, again_headers, again = client.request("GET", path, gzip_ok=gzip_ok)
        assert (status, again) == (200, body), path
        assert again_headers.get("content-encoding") == headers.get("content-encoding")
    assert len(dashboard.app.responses) == 6


def test_etag_and_if_none_match_give_a_304_with_the_security_headers(
    dashboard: Dashboard,
) -> None:
    client = dashboard.client
    status, headers, body = client.request("GET", "/api/records", gzip_ok=True)
    tag = headers["etag"]
    assert status == 200
    assert tag.startswith('"')
    assert tag.endswith('"')
    _, plain_headers, _ = client.request("GET", "/api/records")
    assert plain_headers["etag"] != tag  # another coding, another tag
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        status, not_modified, body = client.request(
            "GET", "/api/records", gzip_ok=True, if_none_match=header
        )
        assert status == 304, header
        assert body == b""
        assert "content-length" not in not_modified
        assert not_modified["etag"] == tag
        assert not_modified["cache-control"] == "no-store"
        assert_security_headers(not_modified, f"304 for {header}")
    status, _, _ = client.request("GET", "/api/records", gzip_ok=True, if_none_match='"other"')
    assert status == 200
    dashboard.tracker["exp/00"] = {"loss": -1.0}
    status, changed, body = client.request("GET", "/api/records", gzip_ok=True, if_none_match=tag)
    assert status == 200
    assert changed["etag"] != tag
    assert decoded(changed, body)["records"][0]["results"] == {"loss": -1.0}
    # HEAD is answered the same way.
    status, head, body = client.request("HEAD", "/api/records", gzip_ok=True, if_none_match=tag)
    assert (status, body) == (200, b"")
    assert_security_headers(head, "HEAD")


def test_errors_are_not_cached(dashboard: Dashboard) -> None:
    client = dashboard.client
    for _ in range(2):
        status, headers, _ = client.request("GET", "/api/records?where=loss%20%3C")
        assert status == 400
        assert "etag" not in headers
    assert len(dashboard.app.responses) == 0


def test_answers_under_concurrent_writes_describe_one_state(dashboard: Dashboard) -> None:
    """Pages polling while a writer changes the store: every full answer's count is
    the number of its records, and once the writer stops, the cached answer is
    the fresh one."""
    client, tracker = dashboard.client, dashboard.tracker
    problems: list[str] = []
    stop = threading.Event()

    def write() -> None:
        number = 0
        while not stop.is_set():
            tracker[f"more/{number % 25:02d}"] = {"loss": float(number)}
            number += 1

    def poll() -> None:
        for _ in range(15):
            status, headers, body = client.request("GET", "/api/records", gzip_ok=True)
            answer = decoded(headers, body)
            if status != 200 or answer["count"] != len(answer["records"]):
                problems.append(f"{status} {answer.get('count')} {len(answer['records'])}")

    writer = threading.Thread(target=write)
    pollers = [threading.Thread(target=poll) for _ in range(4)]
    writer.start()
    for thread in pollers:
        thread.start()
    for thread in pollers:
        thread.join()
    stop.set()
    writer.join()
    assert problems == []
    cached = client.request("GET", "/api/records", gzip_ok=True)
    cached = client.request("GET", "/api/records", gzip_ok=True)
    dashboard.app.responses.clear()
    fresh = client.request("GET", "/api/records", gzip_ok=True)
    assert cached[2] == fresh[2]
    assert decoded(fresh[1], fresh[2])["count"] == 40 + len(
        [key for key in tracker if key.startswith("more/")]
    )


def _response(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    return "200 OK", [], body


def test_the_cache_holds_one_generation_within_its_bounds() -> None:
    cache = ResponseCache(max_entries=3, max_bytes=100)
    for number in range(4):
        cache.put(5, ("variant", number), _response(b"x" * 10))
    assert len(cache) == 3
    assert cache.get(5, ("variant", 0)) is None  # the least recently used left
    assert cache.get(5, ("variant", 3)) is not None
    assert cache.get(6, ("variant", 3)) is None  # another generation: not this answer
    cache.put(5, ("variant", 1), _response(b"y" * 80))  # replaced: 80 + 10 + 10 bytes
    assert cache.size == 100
    cache.put(5, ("variant", 9), _response(b"z" * 20))
    assert cache.size <= 100
    assert cache.get(5, ("variant", 9)) is not None
    cache.put(5, ("big",), _response(b"b" * 101))  # larger than the whole cache: not kept
    assert cache.get(5, ("big",)) is None
    cache.put(4, ("old",), _response(b"o"))  # an older generation is never kept
    assert cache.get(4, ("old",)) is None
    cache.put(7, ("new",), _response(b"n"))  # a newer one drops the older answers
    assert len(cache) == 1
    assert cache.size == 1
    assert cache.get(5, ("variant", 9)) is None
