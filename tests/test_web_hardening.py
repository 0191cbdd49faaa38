"""The dashboard's server against hostile data and hostile clients, on real sockets.

Corrupt documents and stale cursors (issue #12 item 15), the security headers
on every response (item 15), clients that never finish a request (item 16).
The report's file writing (item 17) is in ``test_web_report_file.py``, the
page itself in ``test_web_browser.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker, ResultTracker
from resulttracker.errors import StoreError
from resulttracker.web import make_app, write_report
from resulttracker.web.server import ServerLimits, plotly_script, run_server
from tests.conftest import StoreHarness, _harness
from tests.test_web import Client

#: What every response must carry, spelled out here rather than imported.
EXPECTED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HEAVY = bool(os.environ.get("CI"))


class Running:
    """A dashboard on a loopback port, stopped by :meth:`stop`."""

    def __init__(self, tracker: ResultTracker, limits: ServerLimits | None = None) -> None:
        self.app = make_app(tracker, refresh=0.2)
        self.app.changes.min_interval = 0
        self.app.checker.max_age = 0  # every request looks at the store itself
        self.server = run_server(self.app, "127.0.0.1", 0, limits)
        self.port = self.server.server_address[1]
        self.client = Client(self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["exp/a"] = {"loss": 0.5}
    tracker["exp/b"] = {"loss": 0.25}
    started = Running(tracker)
    yield started
    started.stop()


def raw_request(
    port: int, data: bytes, *, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; return the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        answer = read_all(connection)
    return parse_answer(answer)


def read_all(connection: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse_answer(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), answer[:200]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} twice"
        headers[name.lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def assert_security_headers(headers: dict[str, str], what: str) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert headers.get(name) == value, (what, name, headers)
    policy = headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("default-src") == ["'none'"], (what, policy)
    assert directives.get("script-src") == ["'self'"], (what, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (what, policy)


# -- item 15: corrupt documents --------------------------------------------------------------

GOOD = {"good/1": {"loss": 0.5}, "good/2": {"loss": 0.25, "name": "adam"}}
#: Documents no reader can decode: each must be left out and reported, never a 500.
CORRUPT: dict[str, bytes] = {
    "bad/json": b'{"loss": 0.5',
    "bad/deep": b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "bad/digits": b'{"x": ' + b"9" * 5000 + b"}",
    "bad/array": b"[1, 2]",
    "bad/text": b'"just text"',
    "bad/utf8": b'{"x": "\xff\xfe"}',
}


@pytest.fixture(params=["local", "memory", "s3", "sqlite"])
def store_with_corrupt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    for harness in _harness(request, tmp_path, request.param):
        for key, results in GOOD.items():
            harness.tracker[key] = results
        for key, data in CORRUPT.items():
            if harness.text_only and key == "bad/utf8":
                continue
            harness.raw_write(key, data)
        yield harness


def test_corrupt_documents_are_reported_and_the_others_served(
    store_with_corrupt: StoreHarness, tmp_path: Path
) -> None:
    harness = store_with_corrupt
    expected_corrupt = {k for k in CORRUPT if not (harness.text_only and k == "bad/utf8")}
    running = Running(harness.tracker)
    try:
        body = running.client.json("/api/records")
        assert [record["key"] for record in body["records"]] == sorted(GOOD)
        if harness.name == "local":  # a store that keeps times keeps them, corrupt keys or not
            assert all(record["modified"] for record in body["records"])
        assert body["count"] == len(GOOD)
        assert body["corrupt"] == len(expected_corrupt)
        listed = {entry["key"]: entry["reason"] for entry in body["corrupt_keys"]}
        assert set(listed) == expected_corrupt
        assert all(reason for reason in listed.values())
        # reasons never reveal where the store is
        assert str(tmp_path) not in json.dumps(body)
        # under a prefix, only the corrupt keys under it
        body = running.client.json("/api/records?prefix=good")
        assert (body["corrupt"], body["corrupt_keys"], body["count"]) == (0, [], 2)
        body = running.client.json("/api/records?prefix=bad")
        assert body["records"] == []
        assert {entry["key"] for entry in body["corrupt_keys"]} == expected_corrupt
        # a later poll still answers, and a corrupt key that is repaired appears
        harness.tracker["bad/json"] = {"loss": 1.5}
        later = running.client.json(f"/api/records?since={body['cursor']}")
        assert [record["key"] for record in later["records"]] == ["bad/json"]
        assert later["corrupt"] == len(expected_corrupt) - 1
    finally:
        running.stop()
    # the report too: written, with the readable records and the list of the others
    destination = tmp_path / "report.html"
    assert write_report(harness.tracker, str(destination)) == len(GOOD) + 1
    page = destination.read_text()
    assert '"corrupt":' + str(len(expected_corrupt) - 1) in page
    assert "bad/deep" in page


def test_a_file_name_no_key_can_have_is_shown_or_listed(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["ok"] = {"loss": 1.0}
    (tmp_path / "store" / "odd\x01name").write_bytes(b'{"loss": 2.0}')
    (tmp_path / "store" / "deep").write_bytes(b"[" * 100_000)  # forces reading key by key
    running = Running(tracker)
    try:
        body = running.client.json("/api/records")
    finally:
        running.stop()
    keys = [record["key"] for record in body["records"]]
    listed = [entry["key"] for entry in body["corrupt_keys"]]
    assert "ok" in keys
    assert "deep" in listed
    assert ("odd\x01name" in keys) != ("odd\x01name" in listed)


def test_a_lone_surrogate_never_breaks_an_answer(tmp_path: Path) -> None:
    # A JSON escape of a lone surrogate decodes to a str that UTF-8 cannot encode.
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["ok"] = {"loss": 1.0}
    (tmp_path / "store" / "odd").write_bytes(b'{"\\udc80name": "\\ud800", "loss": 2.0}')
    # and a file name that is not UTF-8: its key holds the surrogate escape of the byte
    (tmp_path / "store").joinpath("bad\udcff").write_bytes(b'{"loss": 3.0}')
    running = Running(tracker)
    try:
        status, _, body = running.client.request("GET", "/api/records")
        assert status == 200, body
        payload = json.loads(body)
        keys = [record["key"] for record in payload["records"]]
        listed = [entry["key"] for entry in payload["corrupt_keys"]]
        assert "ok" in keys
        assert "bad\udcff" in keys
        assert ("odd" in keys) != ("odd" in listed)  # shown (escaped) or reported, never lost
        if "odd" in keys:
            record = payload["records"][keys.index("odd")]
            assert record["results"]["\udc80name"] == "\ud800"
    finally:
        running.stop()
    destination = tmp_path / "report.html"
    assert write_report(tracker, str(destination)) in (2, 3)
    destination.read_text(encoding="utf-8")  # valid UTF-8 throughout


# -- item 15: the since cursor -----------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        "garbage",
        "-1",
        "17",
        "{epoch}",
        "{epoch}.",
        "{epoch}.-1",
        "{epoch}.+1",
        "{epoch}.1.2",
        "{epoch}.\u00b2",  # a superscript two: str.isdigit() says yes, int() says no
        "{epoch}.\u0661",  # an Arabic-Indic one
        "{epoch}." + "9" * 5000,  # beyond int()'s digit limit
        "{epoch}.1e3",
        "{EPOCH}.1",
        ".1",
        "\u00e9t\u00e9.1",
        "x" * 100_000,
    ],
)
def test_a_malformed_cursor_is_a_400_with_a_clear_error(running: Running, since: str) -> None:
    epoch = running.client.json("/api/records")["cursor"].split(".")[0]
    # Upper-case hex is malformed; an epoch of digits alone gets an upper-case letter.
    shouted = epoch.upper() if epoch != epoch.upper() else epoch[:-1] + "A"
    cursor = since.format(epoch=epoch, EPOCH=shouted)
    from urllib.parse import quote

    status, headers, body = running.client.request("GET", "/api/records?since=" + quote(cursor))
    assert status in (400, 414), body[:200]
    if status == 400:
        assert headers["content-type"].startswith("application/json")
        assert "since cursor" in json.loads(body)["error"]
    assert_security_headers(headers, since[:20])


@pytest.mark.parametrize(
    ("since", "full"),
    [
        ("deadbeef.1", True),  # another server's (or before a restart)
        ("00000000.0", True),
        ("{epoch}.99999999999999999999", True),  # from the future
        ("{epoch}.0", False),
        ("", True),
    ],
)
def test_a_stale_cursor_reloads_everything(running: Running, since: str, full: bool) -> None:
    first = running.client.json("/api/records")
    epoch = first["cursor"].split(".")[0]
    if epoch in ("deadbeef", "00000000"):
        pytest.skip("the random epoch is the one this case uses as foreign")
    body = running.client.json("/api/records?since=" + since.format(epoch=epoch))
    assert body["full"] is full
    assert body["count"] == 2
    assert len(body["records"]) == 2  # (epoch.0 is before the first scan: all changed since)


# -- item 15: one response path, the same headers on all -----------------------------------


def test_every_answer_carries_the_security_headers(running: Running) -> None:
    client = running.client
    cases: list[tuple[str, str, str | None, int]] = [
        ("GET", "/", None, 200),
        ("HEAD", "/", None, 200),
        ("GET", "/static/main.js", None, 200),
        ("GET", "/static/where.js", None, 200),
        ("GET", "/static/app.css", None, 200),
        ("GET", "/static/plotly.min.js", None, 200),
        ("GET", "/api/config", None, 200),
        ("GET", "/api/records", None, 200),
        ("GET", "/favicon.ico", None, 204),
        ("GET", "/nope", None, 404),
        ("GET", "/?x=1", None, 400),
        ("GET", "/api/records?bogus=1", None, 400),
        ("GET", "/api/records?where=loss%20%3C", None, 400),
        ("GET", "/api/records?prefix=..", None, 400),
        ("GET", "/api/records?since=nope", None, 400),
        ("POST", "/api/records", None, 405),
        ("DELETE", "/", None, 405),
        ("GET", "/", "evil.example", 421),
    ]
    for method, path, host, status in cases:
        found, headers, _ = client.request(method, path, host=host)
        assert found == status, (method, path)
        assert_security_headers(headers, f"{method} {path}")


def test_a_failing_server_answers_with_the_headers_and_no_traceback(running: Running) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SECRET-internal-detail")

    running.app.changes.snapshot = broken  # type: ignore[method-assign]
    status, headers, body = running.client.request("GET", "/api/records")
    assert status == 500
    assert json.loads(body) == {"error": "internal error"}
    assert b"SECRET" not in body
    assert b"Traceback" not in body
    assert_security_headers(headers, "500")


def test_a_failing_store_is_a_502_with_the_headers(running: Running) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("the store is unreachable")

    # The dashboard reads through the store's change feed (or a scan elsewhere).
    running.app.tracker.scan = unreachable  # type: ignore[method-assign]
    store = running.app.tracker.store  # type: ignore[attr-defined]
    store.list_versions_and_reserved = unreachable
    store.list_versions = unreachable
    store.scan = unreachable
    status, headers, body = running.client.request("GET", "/api/records")
    assert status == 502
    assert "unreachable" in json.loads(body)["error"]
    assert_security_headers(headers, "502")


HOST = b"Host: 127.0.0.1\r\n"

#: Requests the server refuses itself, before the app sees them.
PROTOCOL_ERRORS: list[tuple[bytes, int]] = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),  # HTTP/0.9
    (b"GET / HTTP/2.0\r\n" + HOST + b"\r\n", 505),
    (b"GET / HTTP/1.1 extra\r\n" + HOST + b"\r\n", 400),
    (b"GET http://evil.example/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414),
    (b"GET / HTTP/1.1\r\n" + HOST + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    (
        b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
        431,
    ),
    (
        b"GET / HTTP/1.1\r\n"
        + HOST
        + b"".join(b"X-%d: %s\r\n" % (n, b"a" * 4000) for n in range(20))
        + b"\r\n",
        431,
    ),
    (b"GET / HTTP/1.1\r\n" + HOST + b"Bad Header: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + HOST + b" folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + HOST + HOST + b"\r\n", 400),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1000000000\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (
        b"POST / HTTP/1.1\r\n"
        + HOST
        + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        400,
    ),
]


@pytest.mark.parametrize(("request_bytes", "status"), PROTOCOL_ERRORS)
def test_malformed_requests_are_refused_with_the_headers(
    running: Running, request_bytes: bytes, status: int
) -> None:
    started = time.monotonic()
    found, headers, body = raw_request(running.port, request_bytes)
    assert found == status, body
    assert time.monotonic() - started < 5
    assert_security_headers(headers, repr(request_bytes[:30]))
    assert headers["connection"] == "close"


def test_a_small_body_is_read_and_ignored(running: Running) -> None:
    status, _, body = raw_request(
        running.port, b"GET /api/config HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello"
    )
    assert status == 200
    assert json.loads(body)["mode"] == "live"
    status, _, _ = raw_request(
        running.port, b"POST /api/records HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n\r\nhello"
    )
    assert status == 405


def test_http_1_0_and_head_work(running: Running) -> None:
    status, headers, body = raw_request(
        running.port, b"GET /api/config HTTP/1.0\r\n" + HOST + b"\r\n"
    )
    assert status == 200
    assert int(headers["content-length"]) == len(body)
    status, headers, body = raw_request(running.port, b"HEAD / HTTP/1.1\r\n" + HOST + b"\r\n")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


# -- item 16: clients that never finish a request ----------------------------------------------


def test_limits_are_checked() -> None:
    for bad in (
        {"workers": 0},
        {"max_connections": 0},
        {"header_timeout": 0},
        {"write_timeout": -1},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServerLimits(**bad)  # type: ignore[arg-type]
    defaults = ServerLimits()
    assert (defaults.workers, defaults.max_connections, defaults.header_timeout) == (8, 512, 10.0)


def timed_request(client: Client, path: str = "/api/records") -> float:
    started = time.monotonic()
    status, _, _ = client.request("GET", path)
    assert status == 200
    return time.monotonic() - started


def open_idle(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        sockets.append(connection)
    return sockets


def closed_by_server(connection: socket.socket) -> bool:
    """Whether the server has ended this connection (an answer then EOF, or a reset)."""
    connection.settimeout(0.05)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_slow_clients_hold_no_thread_and_are_cut_off(running_slowloris: Running) -> None:
    running = running_slowloris
    limits = running.server.limits
    per_kind = 150 if HEAVY else 100
    baseline_threads = threading.active_count()
    silent = open_idle(running.port, per_kind)
    half_line = open_idle(running.port, per_kind)
    for connection in half_line:
        connection.sendall(b"GET /api/rec")
    dripping = open_idle(running.port, per_kind)
    request = b"GET /api/records HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    slow_body = open_idle(running.port, per_kind // 2)
    for connection in slow_body:
        connection.sendall(
            b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\n"
        )
    stop = threading.Event()

    def drip() -> None:
        position = 0
        while not stop.is_set() and position < len(request):
            for connection in dripping + slow_body:
                with contextlib.suppress(OSError):  # already cut off
                    connection.send(request[position : position + 1])
            position += 1
            stop.wait(0.05)

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    everyone = silent + half_line + dripping + slow_body
    opened = time.monotonic()
    try:
        time.sleep(0.5)
        # A real request is answered promptly while they are all open.
        waits = [timed_request(running.client) for _ in range(5)]
        assert max(waits) < 2.0, waits
        # Hundreds of slow connections cost no thread each: the workers and ours only.
        assert threading.active_count() <= baseline_threads + limits.workers + 2
        # Each is cut off once the header timeout has passed since it opened.
        deadline = opened + limits.header_timeout + 5
        remaining = list(everyone)
        while remaining and time.monotonic() < deadline:
            remaining = [c for c in remaining if not closed_by_server(c)]
            time.sleep(0.2)
        assert not remaining, f"{len(remaining)} slow connections still open"
        assert time.monotonic() - opened >= limits.header_timeout - 0.5  # not cut early
        assert timed_request(running.client) < 2.0
    finally:
        stop.set()
        dripper.join(timeout=5)
        for connection in everyone:
            connection.close()


@pytest.fixture
def running_slowloris(tmp_path: Path) -> Iterator[Running]:
    tracker = FsspecResultTracker(tmp_path / "store")
    for number in range(20):
        tracker[f"exp/{number}"] = {"loss": number / 3}
    started = Running(tracker, ServerLimits(header_timeout=3.0, workers=4))
    yield started
    started.stop()


def test_a_silent_connection_gets_a_408_after_the_header_timeout(tmp_path: Path) -> None:
    running = Running(FsspecResultTracker(tmp_path / "store"), ServerLimits(header_timeout=1.0))
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never the blank line
            started = time.monotonic()
            status, headers, _ = parse_answer(read_all(connection))
            waited = time.monotonic() - started
        assert status == 408
        assert 0.5 < waited < 4
        assert_security_headers(headers, "408")
    finally:
        running.stop()


def test_more_connections_than_the_limit_drop_the_slowest(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    tracker["a"] = {"loss": 1.0}
    running = Running(tracker, ServerLimits(max_connections=40, header_timeout=60))
    flood = []
    try:
        flood = open_idle(running.port, 200)
        time.sleep(0.5)
        assert timed_request(running.client) < 2.0
        time.sleep(0.2)
        still_open = [c for c in flood if not closed_by_server(c)]
        assert len(still_open) <= 40
        # the oldest went first
        assert all(not closed_by_server(c) for c in flood[-20:])
    finally:
        for connection in flood:
            connection.close()
        running.stop()


def test_a_client_that_never_reads_the_answer_is_cut_off(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    running = Running(tracker, ServerLimits(write_timeout=1.0, workers=1))
    try:
        with socket.socket() as connection:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            connection.settimeout(10)
            connection.connect(("127.0.0.1", running.port))
            connection.sendall(b"GET /static/plotly.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            time.sleep(0.3)
            # the one worker is free again: the answer is computed, only its sending waits
            assert timed_request(running.client, "/api/config") < 2.0
            time.sleep(2.5)
            received = 0
            connection.settimeout(5)
            try:
                while chunk := connection.recv(1 << 20):
                    received += len(chunk)
            except OSError:
                pass
            assert received < len(plotly_script())  # cut off before the end
            assert not running.server._connections  # and forgotten by the server
    finally:
        running.stop()


def test_shutdown_is_prompt_with_connections_open(tmp_path: Path) -> None:
    running = Running(FsspecResultTracker(tmp_path / "store"), ServerLimits(header_timeout=60))
    idle = open_idle(running.port, 50)
    try:
        for connection in idle[:25]:
            connection.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 3
        assert all(closed_by_server(connection) for connection in idle)
    finally:
        for connection in idle:
            connection.close()


def test_a_bug_in_reading_a_request_costs_that_connection_only(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resulttracker.web import server as server_module

    real = server_module._parse_header

    def fragile(line: str) -> tuple[str, str]:
        if line.lower().startswith("x-boom"):
            raise RuntimeError("a bug")
        return real(line)

    monkeypatch.setattr(server_module, "_parse_header", fragile)
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\n" + HOST + b"X-Boom: 1\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert read_all(connection) == b""
    assert timed_request(running.client) < 2.0


def test_the_wsgi_app_answers_through_the_same_path(tmp_path: Path) -> None:
    app = make_app(FsspecResultTracker(tmp_path / "store"))
    started: list[tuple[str, list[tuple[str, str]]]] = []
    for method, path, status in [("GET", "/nope", 404), ("HEAD", "/", 200), ("PUT", "/", 405)]:
        started.clear()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "HTTP_HOST": "127.0.0.1:8765",
        }
        body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
        ((found, headers),) = started
        assert int(found.split()[0]) == status
        named = {name.lower(): value for name, value in headers}
        assert_security_headers(named, f"WSGI {method} {path}")
        assert (body == b"") == (method == "HEAD")
        assert int(named["content-length"]) > 0
