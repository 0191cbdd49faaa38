"""The dashboard's JSON API and report, through a real HTTP server on a loopback port.

The browser side (rendering, filtering in the page, XSS) is in
``test_web_browser.py``.
"""

from __future__ import annotations

import gzip
import html.parser
import http.client
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from resulttracker import FsspecResultTracker, ResultTracker
from resulttracker.errors import InvalidQueryError
from resulttracker.web import make_app, write_report
from resulttracker.web.report import bundle_modules, page_script
from resulttracker.web.server import PAGE_MODULES, run_server
from tests.conftest import StoreHarness

XSS_KEY = "exp/<img src=x onerror=alert(1)>/0"
XSS_VALUE = "</script><script>alert(2)</script><!--"


class Client:
    """A tiny HTTP client for one running dashboard; returns status, headers and JSON."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        gzip_ok: bool = False,
        if_none_match: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": f"127.0.0.1:{self.port}" if host is None else host}
        if gzip_ok:
            headers["Accept-Encoding"] = "gzip"
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def json(self, path: str) -> Any:
        status, headers, body = self.request("GET", path)
        assert status == 200, body
        assert headers["content-type"].startswith("application/json")
        return json.loads(body)


def start(tracker: ResultTracker, *, refresh: float = 0.2) -> tuple[Client, Any]:
    app = make_app(tracker, refresh=refresh)
    server = run_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}).start()
    return Client(server.server_address[1]), server


@pytest.fixture
def dashboard(store: StoreHarness) -> Iterator[tuple[Client, StoreHarness]]:
    """A dashboard on each backend, every request looking at the store (``max_age`` 0)."""
    client, server = start(store.tracker)
    server.get_app().changes.min_interval = 0
    server.get_app().checker.max_age = 0  # every request looks at the store itself
    yield client, store
    server.shutdown()
    server.server_close()


def fill(tracker: ResultTracker) -> None:
    for trial in range(3):
        for seed in range(2):
            tracker[f"exp/t{trial}/s{seed}"] = {
                "loss": 0.1 * trial + 0.01 * seed,
                "acc/mean": 0.9 - 0.1 * trial,
                "acc/sem": 0.01,
                "optimizer": "adam" if trial < 2 else "sgd",
            }


def test_full_load_then_only_changes(dashboard: tuple[Client, StoreHarness]) -> None:
    client, store = dashboard
    fill(store.tracker)
    first = client.json("/api/records")
    assert first["full"] is True
    assert first["count"] == 6
    assert [record["key"] for record in first["records"]] == sorted(store.tracker.keys())
    assert first["records"][0]["results"]["acc/sem"] == 0.01
    assert isinstance(first["records"][0]["modified"], (float, int, type(None)))

    unchanged = client.json(f"/api/records?since={first['cursor']}")
    assert unchanged == {**unchanged, "full": False, "records": [], "removed": [], "count": 6}

    store.tracker["exp/t9/s0"] = {"loss": math.nan, "note": XSS_VALUE}
    store.tracker["exp/t0/s0"] = {"loss": 5.0}
    store.tracker.delete("exp/t1/s1")
    changed = client.json(f"/api/records?since={unchanged['cursor']}")
    assert [record["key"] for record in changed["records"]] == ["exp/t0/s0", "exp/t9/s0"]
    assert changed["records"][1]["results"] == {"loss": {"float": "nan"}, "note": XSS_VALUE}
    assert changed["removed"] == ["exp/t1/s1"]
    assert changed["count"] == 6


def test_where_and_prefix_are_applied_on_the_server(dashboard: tuple[Client, StoreHarness]) -> None:
    client, store = dashboard
    fill(store.tracker)
    body = client.json("/api/records?prefix=exp/t1&where=loss%20%3E%3D%200.105")
    assert [record["key"] for record in body["records"]] == ["exp/t1/s1"]
    body = client.json("/api/records?where=optimizer%20%3D%20adam&where=loss%20%3C%200.1")
    assert [record["key"] for record in body["records"]] == ["exp/t0/s0", "exp/t0/s1"]
    expected = [r.key for r in store.tracker.select(None, ["optimizer = adam", "loss < 0.1"])]
    assert [record["key"] for record in body["records"]] == expected

    # A record that changes so that it leaves the filter is reported as removed.
    store.tracker["exp/t0/s1"] = {"loss": 3.0, "optimizer": "adam"}
    later = client.json(
        f"/api/records?where=optimizer%20%3D%20adam&where=loss%20%3C%200.1&since={body['cursor']}"
    )
    assert later["removed"] == ["exp/t0/s1"]
    assert later["count"] == 1


def test_a_malformed_where_is_a_400_with_a_caret(dashboard: tuple[Client, StoreHarness]) -> None:
    client, _ = dashboard
    status, _headers, body = client.request("GET", "/api/records?where=loss%20%3C")
    assert status == 400
    message = json.loads(body)["error"]
    assert "expected a value" in message
    assert "^" in message
    with pytest.raises(InvalidQueryError):
        write_report(FsspecResultTracker("memory://nothing"), "/dev/null", where=["loss <"])


@pytest.fixture
def local_dashboard(tmp_path: Path) -> Iterator[tuple[Client, FsspecResultTracker]]:
    tracker = FsspecResultTracker(tmp_path / "store")
    fill(tracker)
    client, server = start(tracker)
    yield client, tracker
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/api/records", "/api/records?since=x"])
def test_read_only(
    local_dashboard: tuple[Client, FsspecResultTracker], method: str, path: str
) -> None:
    client, tracker = local_dashboard
    before = {key: tracker[key] for key in tracker}
    status, headers, _ = client.request(method, path)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert {key: tracker[key] for key in tracker} == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/records?path=/etc/passwd",
        "/api/records?file=../../secret",
        "/api/records?prefix=a&prefix=b",
        "/static/main.js?name=../../etc/passwd",
        "/?url=file:///etc/passwd",
    ],
)
def test_no_parameter_names_a_file(
    local_dashboard: tuple[Client, FsspecResultTracker], path: str
) -> None:
    client, _ = local_dashboard
    status, _, body = client.request("GET", path)
    assert status == 400
    assert b"root:" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/server.py",
        "/static/app.js",
        "/static/index.html",
        "/etc/passwd",
        "/api/keys",
    ],
)
def test_only_known_resources_exist(
    local_dashboard: tuple[Client, FsspecResultTracker], path: str
) -> None:
    client, _ = local_dashboard
    assert client.request("GET", path)[0] == 404


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
        ("evil.example:{port}", 421),
        ("127.0.0.1.evil.example", 421),
        ("192.168.1.20:{port}", 421),
        ("", 421),
    ],
)
def test_host_header_is_checked(
    local_dashboard: tuple[Client, FsspecResultTracker], host: str, status: int
) -> None:
    client, _ = local_dashboard
    assert client.request("GET", "/api/records", host=host.format(port=client.port))[0] == status


def test_security_headers_on_every_response(
    local_dashboard: tuple[Client, FsspecResultTracker],
) -> None:
    client, _ = local_dashboard
    for path in ["/", "/static/main.js", "/static/where.js", "/api/records", "/nope"]:
        _, headers, _ = client.request("GET", path)
        policy = headers["content-security-policy"]
        script_source = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert script_source.split() == ["script-src", "'self'"]
        assert "default-src 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
    _, _, page = client.request("GET", "/")
    # The page itself holds no inline script for the policy to have to allow.
    assert b"<script>" not in page
    assert page.count(b"<script src=") == 1  # main.js; it imports the other modules


def test_responses_are_gzipped_on_request(
    local_dashboard: tuple[Client, FsspecResultTracker],
) -> None:
    client, tracker = local_dashboard
    for number in range(50):
        tracker[f"more/{number}"] = {"loss": number / 7}
    _, headers, body = client.request("GET", "/static/plotly.min.js", gzip_ok=True)
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"/**")
    _, headers, body = client.request("GET", "/api/records", gzip_ok=True)
    assert headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["count"] == 56


def test_credentials_never_reach_the_page(
    s3_endpoint: str, s3_bucket: tuple[str, Any], tmp_path: Path
) -> None:
    bucket, _ = s3_bucket
    secret = "s3cr3t-MARKER-value"
    tracker = FsspecResultTracker(
        f"s3://{bucket}/exp", key="AKIDMARKER", secret=secret, endpoint_url=s3_endpoint
    )
    tracker["a"] = {"loss": 1.0}
    client, server = start(tracker)
    try:
        bodies = [client.request("GET", p)[2] for p in ["/", "/api/config", "/api/records"]]
    finally:
        server.shutdown()
        server.server_close()
    assert write_report(tracker, str(tmp_path / "r.html")) == 1
    bodies.append((tmp_path / "r.html").read_bytes())
    for body in bodies:
        for marker in (secret.encode(), b"AKIDMARKER", s3_endpoint.encode(), bucket.encode()):
            assert marker not in body


def _serve_in_child(host: str) -> tuple[str, str]:
    """Run ``serve`` in a child process on ``host``; return its stdout line and stderr."""
    code = (
        "import sys; from resulttracker import FsspecResultTracker; "
        "from resulttracker.web import serve; "
        f"serve(FsspecResultTracker('memory://child'), host={host!r}, port=0)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
    finally:
        child.terminate()
        _, errors = child.communicate(timeout=30)
    return line, errors


def test_serve_prints_its_address_and_stays_quiet_on_loopback() -> None:
    line, errors = _serve_in_child("127.0.0.1")
    assert "http://127.0.0.1:" in line
    assert "warning" not in errors


def test_serve_warns_on_a_non_loopback_host() -> None:
    line, errors = _serve_in_child("0.0.0.0")
    assert "http://" in line
    assert "warning: serving on 0.0.0.0" in errors


def test_non_loopback_app_accepts_ip_literals_but_not_names() -> None:
    app = make_app(FsspecResultTracker("memory://hosts"), host="0.0.0.0")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/config", "QUERY_STRING": ""}
    assert app.respond({**environ, "HTTP_HOST": "192.168.1.20:8765"})[0] == "200 OK"
    assert app.respond({**environ, "HTTP_HOST": "rebind.evil.example:8765"})[0].startswith("421")


class _Scripts(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def test_report_embeds_data_that_cannot_close_its_script(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    fill(tracker)
    tracker[XSS_KEY] = {"note": XSS_VALUE, "loss": math.inf}
    destination = tmp_path / "report.html"
    assert write_report(tracker, str(destination)) == 7
    page = destination.read_text()
    parser = _Scripts()
    parser.feed(page)
    # Exactly the data block and two scripts: no value opened or closed a script.
    assert [attrs.get("type") for attrs, _ in parser.scripts] == ["application/json", None, None]
    data = json.loads(parser.scripts[0][1])
    assert {record["key"] for record in data["records"]} == {*tracker.keys()}
    by_key = {record["key"]: record for record in data["records"]}
    assert by_key[XSS_KEY]["results"] == {"note": XSS_VALUE, "loss": {"float": "inf"}}
    assert "<img" not in parser.scripts[0][1]
    assert all("src" not in attrs for attrs, _ in parser.scripts)  # nothing loaded
    assert "<link" not in page
    assert 'http-equiv="Content-Security-Policy"' in page
    assert "connect-src 'none'" in page


def test_report_selection_and_fsspec_destination(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    fill(tracker)
    url = f"memory://reports-{os.getpid()}/sweep.html"
    assert write_report(tracker, url, prefix="exp/t2") == 2
    assert write_report(tracker, url, where=["optimizer = adam", "loss < 0.05"]) == 2
    with fsspec.open(url, "rb") as file:
        assert b"resulttracker-data" in file.read()


def test_missing_plotly_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    tracker = FsspecResultTracker(tmp_path / "store")
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[dashboard\]'"):
        make_app(tracker)
    with pytest.raises(ImportError, match=r"pip install 'resulttracker\[dashboard\]'"):
        write_report(tracker, str(tmp_path / "r.html"))
    assert not (tmp_path / "r.html").exists()


def test_refresh_must_be_positive() -> None:
    with pytest.raises(ValueError, match="refresh"):
        make_app(FsspecResultTracker("memory://refresh"), refresh=0)


def test_polls_share_one_scan(tmp_path: Path) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    fill(tracker)
    scans = 0
    original = tracker.scan

    def counting_scan(*args: Any, **kwargs: Any) -> Any:
        nonlocal scans
        scans += 1
        return original(*args, **kwargs)

    tracker.scan = counting_scan  # type: ignore[method-assign]
    # The dashboard follows a store through its change feed: one listing per look.
    original_listing = tracker.store.list_versions_and_reserved

    def counting_listing(*args: Any, **kwargs: Any) -> Any:
        nonlocal scans
        scans += 1
        return original_listing(*args, **kwargs)

    tracker.store.list_versions_and_reserved = counting_listing  # type: ignore[method-assign]
    client, server = start(tracker, refresh=10)
    try:
        started = time.monotonic()
        for _ in range(5):
            client.json("/api/records")
        assert time.monotonic() - started < 1.0
        assert scans == 1
    finally:
        server.shutdown()
        server.server_close()


# -- the page's ES modules, served one by one and inlined into the report ------------------

STATIC = Path(__file__).resolve().parent.parent / "src" / "resulttracker" / "web" / "static"


def test_every_module_is_served_and_preloaded(
    local_dashboard: tuple[Client, FsspecResultTracker],
) -> None:
    client, _ = local_dashboard
    assert {path.name for path in STATIC.glob("*.js")} == set(PAGE_MODULES)
    _, _, page = client.request("GET", "/")
    for name in PAGE_MODULES:
        status, headers, body = client.request("GET", f"/static/{name}")
        assert status == 200, name
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        assert body == (STATIC / name).read_bytes()
        tag = (
            f'<script src="/static/{name}" type="module"></script>'
            if name == "main.js"
            else f'<link rel="modulepreload" href="/static/{name}">'
        )
        assert page.count(tag.encode()) == 1, name


def test_the_report_inlines_every_module_once_in_dependency_order() -> None:
    script = page_script()
    order = [line[len("// ---- ") :] for line in script.splitlines() if line.startswith("// ---- ")]
    assert sorted(order) == sorted(PAGE_MODULES)  # all reachable from main.js, each once
    assert order[-1] == "main.js"
    for position, name in enumerate(order):
        source = (STATIC / name).read_text()
        for imported in re.findall(r'^import .* from "\./([\w.-]+)";$', source, flags=re.M):
            assert order.index(imported) < position, (name, imported)
    assert not re.search(r"^(import|export) ", script, flags=re.M)


def test_bundle_modules_links_imports_to_exports() -> None:
    script = bundle_modules(
        {
            "main.js": 'import { a, $ } from "./a.js";\nimport { b } from "./b.js";\n'
            "export const main = a + b + $;",
            "a.js": 'import { base } from "./base.js";\nexport const a = base + 1;\n'
            "export function $() {}\nconst hidden = 1;",
            "b.js": 'import { base } from "./base.js";\nexport class b {}',
            "base.js": "export const base = 40;",
        }
    )
    order = [line[len("// ---- ") :] for line in script.splitlines() if line.startswith("// ---- ")]
    assert order == ["base.js", "a.js", "b.js", "main.js"]  # base.js once, before both
    assert 'const { a, $ } = __resulttrackerModules.get("a.js");' in script
    assert "return { a, $ };" in script  # hidden stays inside its module
    assert script.startswith('(() => {\n"use strict";')


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"main.js": 'import { a } from "./gone.js";'}, "main.js imports 'gone.js'"),
        ({"main.js": 'import { a } from "./a.js";', "a.js": "export const b = 1;"}, "'a'"),
        (
            {"main.js": 'import { a } from "./a.js";', "a.js": 'import { m } from "./main.js";'},
            "cycle: main.js -> a.js -> main.js",
        ),
        ({"main.js": 'import * as a from "./a.js";'}, "main.js:1: only 'import { names }"),
        ({"main.js": 'import a from "./a.js";'}, "main.js:1"),
        ({"main.js": "export default 1;"}, "main.js:1: only 'export'"),
        ({"main.js": "export { a };"}, "main.js:1"),
        ({"main.js": "export let a = 1;"}, "main.js:1"),
        ({"main.js": "const later = import('./a.js');"}, "main.js:1: a dynamic"),
        ({"main.js": "const url = import.meta.url;"}, "main.js:1: a dynamic"),
        ({"main.js": "if (x) {\n  export const a = 1;\n}"}, "main.js:2: a dynamic or indented"),
    ],
)
def test_bundle_modules_refuses_what_it_cannot_inline(
    sources: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        bundle_modules(sources)
