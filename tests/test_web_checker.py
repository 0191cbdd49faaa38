"""The dashboard looks at the store in a thread of its own (``StoreChecker``):
requests answer from the latest state and never wait for a listing under way;
the thread stops when no page polls and a request starts it again; a failing
store reaches the page as a 502 until a look succeeds; shutdown ends the thread.

Through a real HTTP server on a loopback port, on a local folder whose files are
also written directly; the folder's listing is wrapped to count it and, when
asked, to block until released. No test asserts a duration: waits are bounded
loops of polls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker
from resulttracker.backends import local_versions
from resulttracker.errors import StoreError
from resulttracker.web import write_report
from resulttracker.web.server import DashboardServer

from .test_web import Client, start

CHECKER_THREAD = "resulttracker-dashboard-checker"
#: Polls (0.05 s apart) a test waits at most for something to happen.
MAX_POLLS = 400


@dataclass
class Listing:
    """The folder's listing, counted, blocked while ``blocked`` is set, or failing."""

    original: Any
    count: int = 0
    blocked: bool = False
    failing: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        if self.failing:
            raise StoreError("the store is unreachable (listing refused)")
        if self.blocked:
            self.entered.set()
            assert self.release.wait(30), "the test never released the listing"
        return self.original(*args, **kwargs)


@dataclass
class Dashboard:
    client: Client
    server: DashboardServer
    root: Path
    listing: Listing

    def get(self, path: str) -> tuple[int, Any]:
        status, _, body = self.client.request("GET", path)
        return status, json.loads(body)

    def records(self, since: str | None = None) -> Any:
        status, answer = self.get("/api/records" + (f"?since={since}" if since else ""))
        assert status == 200, answer
        return answer


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    """A dashboard polling every 0.2 s (a look at most every 0.1 s) on a folder of 10 records."""
    monkeypatch.setattr(local_versions, "_RACY_NS", 0)  # files just written are trusted
    root = tmp_path / "store"
    tracker = FsspecResultTracker(root)
    for number in range(10):
        tracker[f"exp/{number}"] = {"loss": number}
    listing = Listing(tracker.store.list_versions_and_reserved)
    monkeypatch.setattr(tracker.store, "list_versions_and_reserved", listing)
    client, server = start(tracker, refresh=0.2)
    try:
        yield Dashboard(client, server, root, listing)
    finally:
        listing.release.set()
        server.shutdown()
        server.server_close()


def write_directly(root: Path, key: str, results: dict[str, Any]) -> None:
    """Write a document as another writer would, bypassing tracker and server."""
    path = root / key  # the folder keeps a key's document in a file of its name
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = root.parent / "document.tmp"  # outside the store: never listed
    temporary.write_text(json.dumps(results))
    temporary.replace(path)


def poll_until(dashboard: Dashboard, cursor: str, key: str) -> tuple[Any, int]:
    """Poll from ``cursor`` until ``key`` is among the changed records; the answer
    and how many polls it took."""
    for polls in range(1, MAX_POLLS + 1):
        answer = dashboard.records(cursor)
        cursor = answer["cursor"]
        if key in [record["key"] for record in answer["records"]]:
            return answer, polls
        time.sleep(0.05)
    raise AssertionError(f"{key} never showed up in {MAX_POLLS} polls")


def wait_for(condition: Any, what: str) -> None:
    for _ in range(MAX_POLLS):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def checker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == CHECKER_THREAD]


def test_a_request_answers_while_a_look_is_blocked_in_the_listing(dashboard: Dashboard) -> None:
    first = dashboard.records()
    assert first["count"] == 10
    # The next look of the checker's thread blocks in the listing.
    dashboard.listing.blocked = True
    assert dashboard.listing.entered.wait(30)
    listings = dashboard.listing.count
    write_directly(dashboard.root, "exp/new", {"loss": -1})
    # Answered from the state before the look: at once, the listing still blocked.
    idle = dashboard.records(first["cursor"])
    full = dashboard.records()
    time.sleep(0.3)  # three of the checker's intervals
    assert not dashboard.listing.release.is_set()
    # One look at a time: none started while this one is blocked, by the thread or a request.
    assert dashboard.listing.count == listings
    assert (idle["records"], idle["removed"]) == ([], [])
    assert full["count"] == 10
    assert full["cursor"] == first["cursor"]
    # Released, the look's outcome is the next state.
    dashboard.listing.blocked = False
    dashboard.listing.release.set()
    changed, _ = poll_until(dashboard, idle["cursor"], "exp/new")
    assert changed["count"] == 11
    assert changed["records"][0]["results"] == {"loss": -1}


def test_an_outside_write_shows_up_within_a_few_polls(dashboard: Dashboard) -> None:
    cursor = dashboard.records()["cursor"]
    write_directly(dashboard.root, "exp/3", {"loss": 33})
    changed, _ = poll_until(dashboard, cursor, "exp/3")
    assert changed["records"] == [
        {"key": "exp/3", "results": {"loss": 33}, "modified": changed["records"][0]["modified"]}
    ]
    assert changed["count"] == 10


def test_the_checker_stops_when_no_page_polls_and_a_request_starts_it(
    dashboard: Dashboard,
) -> None:
    app = dashboard.server.get_app()
    app.checker.idle_after = 0.5
    cursor = dashboard.records()["cursor"]
    assert app.checker.running
    wait_for(lambda: not app.checker.running, "the checker stopped")
    assert checker_threads() == []
    stopped_at = dashboard.listing.count
    time.sleep(0.5)  # several of its intervals: no look while nobody asks
    assert dashboard.listing.count == stopped_at
    # Changed while nobody looked: the next request answers at once from the last
    # state and starts the thread again; a later poll sees the change.
    write_directly(dashboard.root, "exp/late", {"loss": 5})
    restarted = dashboard.records(cursor)
    assert restarted["records"] == []
    assert app.checker.running
    poll_until(dashboard, restarted["cursor"], "exp/late")
    assert dashboard.listing.count > stopped_at


def test_a_state_older_than_max_age_waits_for_a_look(dashboard: Dashboard) -> None:
    app = dashboard.server.get_app()
    app.checker.idle_after = 0.3
    cursor = dashboard.records()["cursor"]
    wait_for(lambda: not app.checker.running, "the checker stopped")
    app.checker.max_age = 0.2
    time.sleep(0.3)
    write_directly(dashboard.root, "exp/old", {"loss": 6})
    # The last look is too old to answer from: this request looks itself.
    answer = dashboard.records(cursor)
    assert [record["key"] for record in answer["records"]] == ["exp/old"]


def test_a_failing_store_reaches_the_page_and_clears(dashboard: Dashboard) -> None:
    cursor = dashboard.records()["cursor"]
    dashboard.listing.failing = True
    answers: list[tuple[int, Any]] = []

    def failed() -> bool:
        answers.append(dashboard.get(f"/api/records?since={cursor}"))
        return answers[-1][0] != 200

    wait_for(failed, "the failure reached a request")
    status, answer = answers[-1]
    assert status == 502
    assert answer == {"error": "the store failed: the store is unreachable (listing refused)"}
    # Every request says so while the store fails (the checker keeps trying).
    assert dashboard.get("/api/records")[0] == 502
    dashboard.listing.failing = False
    wait_for(lambda: dashboard.get(f"/api/records?since={cursor}")[0] == 200, "cleared")
    write_directly(dashboard.root, "exp/after", {"loss": 7})
    poll_until(dashboard, cursor, "exp/after")


def test_shutdown_leaves_no_checker_thread(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["a"] = {"x": 1}
    client, server = start(tracker, refresh=0.2)
    status, _, _ = client.request("GET", "/api/records")
    assert status == 200
    assert server.get_app().checker.running
    assert len(checker_threads()) == 1
    server.shutdown()
    server.server_close()
    assert checker_threads() == []
    assert not server.get_app().checker.running


def test_a_report_reads_the_store_as_it_is(tmp_path: Path) -> None:
    """A one-shot user (the report) looks at the store itself, now."""
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["a"] = {"x": 1}
    client, server = start(tracker, refresh=0.2)
    try:
        assert client.request("GET", "/api/records")[0] == 200
        write_directly(tmp_path / "store", "b", {"x": 2})
        report = tmp_path / "report.html"
        write_report(tracker, report)
        assert '"key":"b"' in report.read_text()
    finally:
        server.shutdown()
        server.server_close()
