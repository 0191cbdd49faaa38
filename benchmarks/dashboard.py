"""Dashboard speed: time to an interactive table, and bytes of one live refresh.

Run::

    .venv/bin/python benchmarks/dashboard.py            # 10,000 results
    .venv/bin/python benchmarks/dashboard.py 50000      # another size

A local store is filled with N results (written directly as files, to keep
set-up fast), a dashboard is served on loopback and Debian's headless
Chromium (``/usr/bin/chromium``) opens it. Reported:

* time from navigation to an interactive table (the page marks itself ready
  after the first render; a click on a column header then sorts all N rows),
  median of 5 loads in fresh browser contexts (plotly.js cached after the first);
* bytes on the wire (gzip, as the browser asks for it) of the full records
  load, and of one poll after one key changed, and their ratio.

Targets from the issue: under 2 s to interactive; a refresh under 5 % of a full load.
Not a test: numbers depend on the machine; commit the table with date and machine.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from resulttracker import FsspecResultTracker
from resulttracker.web import make_app
from resulttracker.web.server import run_server

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def fill(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"sweep/trial{index // 10}"
        folder.mkdir(parents=True, exist_ok=True)
        document = {
            "lr": 10 ** -(index % 5),
            "seed": index % 10,
            "optimizer": "adam" if index % 3 else "sgd",
            "loss/mean": (index * 7919 % 1000) / 1000,
            "loss/sem": 0.01,
            "acc": (index * 104729 % 1000) / 1000,
        }
        (folder / f"seed{index % 10}").write_text(json.dumps(document))


def wire_bytes(port: int, path: str) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request(
        "GET", path, headers={"Host": f"127.0.0.1:{port}", "Accept-Encoding": "gzip"}
    )
    response = connection.getresponse()
    body = response.read()
    connection.close()
    import gzip

    raw = gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body
    return len(body), json.loads(raw)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        fill(root, count)
        tracker = FsspecResultTracker(root)
        app = make_app(tracker, refresh=3600)  # no polls during the timing
        server = run_server(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        url = f"http://127.0.0.1:{port}/"
        app.changes.refresh(force=True)  # the store scan is the server's, not the page's

        timings = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            for _ in range(5):
                page = context.new_page()
                started = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("body[data-state=ready]", timeout=60_000)
                page.click("#results thead th:text-is('acc')")
                page.wait_for_selector("#results thead th[aria-sort=ascending]:text-is('acc')")
                timings.append(time.perf_counter() - started)
                shown = page.text_content("#row-count")
                page.close()
            browser.close()

        full_bytes, full = wire_bytes(port, "/api/records")
        tracker["sweep/trial0/seed0"] = {"acc": 0.5, "loss/mean": 0.1, "loss/sem": 0.01}
        app.changes.min_interval = 0
        refresh_bytes, changed = wire_bytes(port, f"/api/records?since={full['cursor']}")
        assert len(changed["records"]) == 1, changed  # type: ignore[arg-type]
        server.shutdown()

    print(f"results: {count} (page shows {shown!r})")
    print(f"navigation to interactive table, median of 5: {statistics.median(timings):.2f} s")
    print(f"  all loads: {', '.join(f'{t:.2f}' for t in timings)} s")
    print(f"full records load: {full_bytes:,} bytes (gzip)")
    print(f"refresh after one change: {refresh_bytes:,} bytes")
    print(f"ratio: {100 * refresh_bytes / full_bytes:.3f} %")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
