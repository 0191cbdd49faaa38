"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

The browser is installed by the set-up (``make test`` runs
``scripts/install-test-services.sh``, which uses apt-get as root); without it these
tests skip with a message, except under CI (``CI`` set) where a missing browser
fails them. Playwright never downloads a browser here: it drives
``/usr/bin/chromium``.

With ``RESULTTRACKER_SCREENSHOTS=1`` the screenshot test writes one picture per
view to ``docs/`` (commit them when the page changes).
"""

from __future__ import annotations

import math
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker, ResultTracker
from resulttracker.query import parse_where
from resulttracker.stats import aggregate
from resulttracker.web import make_app, write_report
from resulttracker.web.server import run_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS_KEY = "exp/<img src=x onerror=alert(1)>/s0"
XSS_VALUE = "</script><script>alert(2)</script>"
DOCS = Path(__file__).resolve().parent.parent / "docs"


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported late: playwright may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing browser is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    if not os.path.exists(CHROMIUM):
        _missing(f"no browser at {CHROMIUM}: run scripts/install-test-services.sh (or make test)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser page that records dialogs and script errors."""

    def __init__(self, browser: Any, *, offline: bool = False) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.requests: list[str] = []
        if offline:
            self.context.set_offline(True)

            def refuse(route: Any) -> None:
                if route.request.url.startswith("file:"):
                    route.continue_()  # the report itself; anything else is the network
                else:
                    self.requests.append(route.request.url)
                    route.abort()

            self.context.route("**/*", refuse)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-state=ready]")
        return self.page

    def close(self) -> None:
        self.context.close()


def fill_sweep(tracker: ResultTracker, trials: int = 12, seeds: int = 3) -> None:
    rng = random.Random(7)
    for trial in range(trials):
        x, y = rng.uniform(-4, 6), rng.uniform(-4, 6)
        for seed in range(seeds):
            noise = rng.gauss(0, 3)
            booth = (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2
            tracker[f"sweep/trial{trial}/seed{seed}"] = {
                "x": round(x, 3),
                "y": round(y, 3),
                "seed": seed,
                "optimizer": "adam" if trial % 2 else "sgd",
                "loss/mean": booth + noise,
                "loss/sem": abs(noise) / 4 + 0.5,
                "acc": 1 / (1 + booth / 50) + rng.gauss(0, 0.01),
            }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, FsspecResultTracker]]:
    """A dashboard polling every 0.3 s over a sweep plus hostile keys and values."""
    tracker = FsspecResultTracker(tmp_path / "store")
    fill_sweep(tracker)
    tracker[XSS_KEY] = {"loss/mean": 30.0, "loss/sem": 1.0, "acc": 0.5, "optimizer": XSS_VALUE}
    tracker["exp/</script><script>alert(3)</script>/s1"] = {"acc": 0.25, "note": "<b>bold</b>"}
    app = make_app(tracker, refresh=0.3)
    server = run_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tracker
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    opened = Page(browser)
    yield opened
    assert opened.dialogs == [], "a script ran from the data"
    assert opened.errors == []
    opened.close()


def table_keys(page: Any) -> list[str]:
    return [str(text) for text in page.locator("#results tbody td.key").all_text_contents()]


def column_texts(page: Any, name: str) -> list[str]:
    index = page.locator("#results thead th").all_text_contents().index(name)
    return [
        str(text)
        for text in page.locator(f"#results tbody td:nth-child({index + 1})").all_text_contents()
    ]


def test_table_renders_every_result_in_natural_order(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, tracker = served
    view = page.open(url)
    count = len(list(tracker.keys()))
    assert view.text_content("#row-count") == f"{count} results"
    keys = table_keys(view)
    assert len(keys) == count  # fewer than one page
    sweep = [key for key in keys if key.startswith("sweep/")]
    assert sweep[:4] == [
        "sweep/trial0/seed0",
        "sweep/trial0/seed1",
        "sweep/trial0/seed2",
        "sweep/trial1/seed0",
    ]
    assert sweep.index("sweep/trial2/seed0") < sweep.index("sweep/trial10/seed0")
    # statistics pairs are shown as mean ± sem
    assert all(" ± " in text for text in column_texts(view, "loss") if text)


def test_sorting_puts_missing_values_last(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, _ = served
    view = page.open(url)
    view.click("#results thead th:text-is('acc')")
    ascending = [float(text) for text in column_texts(view, "acc")]
    assert ascending == sorted(ascending)
    view.click("#results thead th:text-is('loss')")
    view.click("#results thead th:text-is('loss')")
    texts = column_texts(view, "loss")
    means = [float(text.split(" ± ")[0]) for text in texts if text]
    assert means == sorted(means, reverse=True)
    assert texts[-1] == ""  # the key without a loss, last in both directions


def test_filter_by_where_and_prefix(served: tuple[str, FsspecResultTracker], page: Page) -> None:
    url, tracker = served
    view = page.open(url)
    view.fill("#prefix", "sweep")
    view.fill("#where", "optimizer = adam and acc > 0.3")
    view.click("#apply")
    expected = [r.key for r in tracker.select("sweep", ["optimizer = adam", "acc > 0.3"])]
    expect(view.locator("#row-count")).to_have_text(f"{len(expected)} results")
    assert table_keys(view) == expected
    view.fill("#where", "acc >")
    view.click("#apply")
    assert "expected a value" in view.text_content("#filter-error")


def test_row_detail_shows_the_record_and_its_modified_time(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, tracker = served
    view = page.open(url)
    view.click(f"#results tbody tr:has(td.key:text-is('{XSS_KEY}'))")
    assert view.text_content("#detail-key") == XSS_KEY
    (record,) = [r for r in tracker.scan() if r.key == XSS_KEY]
    assert record.modified is not None
    assert view.text_content("#detail-modified") == record.modified.strftime("%Y-%m-%d %H:%M:%SZ")
    cells = view.locator("#detail-results tbody td").all_text_contents()
    assert XSS_VALUE in cells


def test_every_plot_renders(served: tuple[str, FsspecResultTracker], page: Page) -> None:
    url, _ = served
    view = page.open(url)
    view.click("#tabs button[data-view=trials]")
    view.select_option("#trials-metric", "loss")
    view.wait_for_selector("#trials-plot .scatterlayer .point")
    assert view.locator("#trials-plot .scatterlayer .point").count() >= 36
    assert view.locator("#trials-plot .errorbar").count() >= 36  # from loss/sem
    assert view.locator("#trials-plot .scatterlayer .js-line").count() == 1  # best so far
    view.click("#tabs button[data-view=scatter]")
    view.select_option("#scatter-x", "x")
    view.select_option("#scatter-y", "y")
    view.select_option("#scatter-color", "acc")
    view.wait_for_selector("#scatter-plot .scatterlayer .point")
    assert view.locator("#scatter-plot .colorbar").count() == 1
    view.click("#tabs button[data-view=parallel]")
    assert view.locator("#parallel-plot polyline").count() >= 36
    view.click("#tabs button[data-view=groups]")
    view.select_option("#groups-metric", "loss")
    view.wait_for_selector("#groups-plot .bars .point")
    assert view.locator("#groups-table tbody tr").count() == 14  # 12 trials + 2 hostile groups


def test_brushing_filters_the_other_views(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, _ = served
    view = page.open(url)
    view.click("#tabs button[data-view=parallel]")
    handle = view.locator(".brush-handle[data-name='x']").bounding_box()
    assert handle is not None
    middle = handle["x"] + handle["width"] / 2
    view.mouse.move(middle, handle["y"] + 10)
    view.mouse.down()
    view.mouse.move(middle, handle["y"] + handle["height"] / 2, steps=5)
    view.mouse.up()
    count = view.text_content("#row-count") or ""
    assert "(brushed)" in count
    shown = view.evaluate("window.resulttracker.shownKeys()")
    assert 0 < len(shown) < 38
    view.click("#tabs button[data-view=table]")
    assert table_keys(view) == shown
    view.click("#clear-brush")
    assert "(brushed)" not in (view.text_content("#row-count") or "")


def test_live_refresh_shows_a_key_written_after_load(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, tracker = served
    view = page.open(url)
    before = len(table_keys(view))
    tracker["late/arrival"] = {"acc": 0.99, "loss/mean": 0.5, "loss/sem": 0.1}
    view.wait_for_selector("#results tbody td.key:text-is('late/arrival')", timeout=10_000)
    assert len(table_keys(view)) == before + 1
    tracker.delete("late/arrival")
    # (wait_for_function would evaluate a string: the page's CSP rightly refuses that)
    expect(view.locator("#results td.key:text-is('late/arrival')")).to_have_count(0, timeout=10_000)


def test_hostile_text_stays_text_in_the_plots(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, _ = served
    view = page.open(url)
    view.click("#tabs button[data-view=scatter]")
    view.select_option("#scatter-x", "acc")
    view.select_option("#scatter-y", "loss")
    view.select_option("#scatter-color", "optimizer")
    view.wait_for_selector("#scatter-plot .legendtext")
    assert XSS_VALUE in view.locator("#scatter-plot .legendtext").all_text_contents()
    view.click("#tabs button[data-view=groups]")
    view.select_option("#groups-metric", "acc")
    view.wait_for_selector("#groups-plot .xtick")
    ticks = view.locator("#groups-plot .xtick text").all_text_contents()
    assert "exp/<img src=x onerror=alert(1)>" in ticks
    assert view.locator("img").count() == 0
    assert view.locator("b").count() == 0  # '<b>bold</b>' is text, not markup


def test_report_opens_offline_and_keeps_hostile_text_literal(
    served: tuple[str, FsspecResultTracker], browser: Any, tmp_path: Path
) -> None:
    _, tracker = served
    destination = tmp_path / "report.html"
    assert write_report(tracker, str(destination)) == 38
    offline = Page(browser, offline=True)
    try:
        view = offline.open(destination.as_uri())
        assert view.text_content("#row-count") == "38 results"
        assert XSS_KEY in table_keys(view)
        view.click(f"#results tbody tr:has(td.key:text-is('{XSS_KEY}'))")
        assert view.text_content("#detail-key") == XSS_KEY
        view.click("#detail-close")
        # the page filters by itself, with the library's where syntax
        view.fill("#where", "optimizer = sgd and loss/mean < 40")
        view.click("#apply")
        expected = [r.key for r in tracker.select(None, ["optimizer = sgd", "loss/mean < 40"])]
        assert 0 < len(expected) < 38
        assert table_keys(view) == expected
        assert view.text_content("#row-count") == f"{len(expected)} results"
        for view_name in ("trials", "scatter", "parallel", "groups"):
            view.click(f"#tabs button[data-view={view_name}]")
        view.wait_for_selector("#groups-plot .bars .point")
        assert view.locator("img").count() == 0
        assert [url for url in offline.requests if not url.startswith("file:")] == []
        assert offline.dialogs == []
        assert offline.errors == []
    finally:
        offline.close()


CONDITIONS = [
    "loss < 0.5",
    "loss <= 0.5",
    "loss = nan",
    "loss != nan",
    "loss > -inf",
    "loss < inf",
    "flag = true",
    "flag = 1",
    "n >= 3",
    "name = adam",
    "name = 'adam'",
    "name < b",
    "name = '3'",
    "name = 3",
    "'acc/mean' > 0.5",
    "\"it's\" = 'a\\'b'",
    "missing != 1",
    "name != adam",
    "name >= 'é'",
]
RESULTS: list[dict[str, Any]] = [
    {"loss": 0.25, "flag": True, "n": 3, "name": "adam", "acc/mean": 0.7},
    {"loss": math.nan, "flag": False, "n": 2, "name": "3", "it's": "a'b"},
    {"loss": 0.5, "name": "sgd", "acc/mean": 0.2},
    {"loss": math.inf, "n": 10**6, "name": "émile"},
    {"loss": -1, "name": "b"},
]
MALFORMED = ["", "loss", "loss <", "< 3", "loss < 'open", "loss < 1 2", "a = b =", "x = y<"]


def test_the_page_reads_where_exactly_as_the_library(browser: Any, tmp_path: Path) -> None:
    report = tmp_path / "empty.html"
    write_report(FsspecResultTracker(tmp_path / "store"), str(report))
    checker = Page(browser)
    try:
        view = checker.open(report.as_uri())
        encoded = [
            {
                n: {"float": str(v)} if isinstance(v, float) and not math.isfinite(v) else v
                for n, v in results.items()
            }
            for results in RESULTS
        ]
        for condition in CONDITIONS:
            expected = [parse_where(condition).matches(results) for results in RESULTS]
            found = view.evaluate(
                """([condition, rows]) => {
                    const parsed = window.resulttracker.parseWhere(condition);
                    const decode = (v) => v !== null && typeof v === 'object'
                        ? (v.float === 'nan' ? NaN : v.float === 'inf' ? Infinity : -Infinity) : v;
                    return rows.map((row) => {
                        const results = {};
                        for (const [n, v] of Object.entries(row)) results[n] = decode(v);
                        return window.resulttracker.matches(parsed, results);
                    });
                }""",
                [condition, encoded],
            )
            assert found == expected, condition
        for condition in MALFORMED[1:]:
            with pytest.raises(Exception):  # noqa: B017, PT011 - the library refuses it
                parse_where(condition)
            error = view.evaluate(
                "(c) => { try { window.resulttracker.parseWhere(c); return null; }"
                " catch (e) { return e.message; } }",
                condition,
            )
            assert error is not None, condition
    finally:
        checker.close()


def test_the_page_groups_like_the_statistics_module(browser: Any, tmp_path: Path) -> None:
    report = tmp_path / "empty.html"
    write_report(FsspecResultTracker(tmp_path / "store"), str(report))
    replicas: dict[str, dict[str, Any]] = {
        "g/a/0": {"loss": 1.0, "acc/mean": 0.5, "acc/sem": 0.1, "m/mean": 2.0},
        "g/a/1": {"loss": 3.0, "acc/mean": 0.7, "acc/sem": 0.2, "m": 4.0},
        "g/a/2": {"loss": 8.5, "acc/mean": 0.6, "acc/sem": 0.05, "opt": "adam"},
        "g/b/0": {"loss": 2.0, "flag": True},
    }
    expected = aggregate(replicas, by=-1)
    checker = Page(browser)
    try:
        view = checker.open(report.as_uri())
        for group in ("g/a", "g/b"):
            members = [results for key, results in replicas.items() if key.startswith(group)]
            found = view.evaluate("(rows) => window.resulttracker.combine(rows)", members)
            for metric in ("loss", "acc", "m", "flag"):
                if f"{metric}/mean" not in expected[group]:
                    continue
                mean = expected[group][f"{metric}/mean"]
                sem = expected[group][f"{metric}/sem"]
                assert found[metric]["mean"] == pytest.approx(mean), (group, metric)
                assert found[metric]["n"] == expected[group][f"{metric}/n"], (group, metric)
                if isinstance(sem, float) and math.isnan(sem):
                    assert math.isnan(found[metric]["sem"]), (group, metric)
                else:
                    assert found[metric]["sem"] == pytest.approx(sem), (group, metric)
    finally:
        checker.close()


def test_downloads_hold_the_filtered_rows(
    served: tuple[str, FsspecResultTracker], page: Page, tmp_path: Path
) -> None:
    url, tracker = served
    view = page.open(url)
    view.fill("#prefix", "sweep/trial1")
    view.click("#apply")
    expect(view.locator("#row-count")).to_have_text("3 results")
    with view.expect_download() as download:
        view.click("#download-csv")
    path = tmp_path / "rows.csv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("key,modified,")
    assert [line.split(",")[0] for line in lines[1:]] == list(tracker.keys("sweep/trial1"))
    with view.expect_download() as download:
        view.click("#download-json")
    download.value.save_as(tmp_path / "rows.json")
    import json

    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [row["key"] for row in rows] == list(tracker.keys("sweep/trial1"))


def test_screenshots(browser: Any, tmp_path: Path) -> None:
    # Every run takes the pictures; with RESULTTRACKER_SCREENSHOTS=1 they go to docs/
    # (commit them when the page changes), otherwise to a scratch folder.
    folder = DOCS if os.environ.get("RESULTTRACKER_SCREENSHOTS") else tmp_path / "docs"
    tracker = FsspecResultTracker(tmp_path / "store")
    fill_sweep(tracker, trials=24)
    app = make_app(tracker, refresh=5)
    server = run_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}).start()
    shooter = Page(browser)
    try:
        view = shooter.open(f"http://127.0.0.1:{server.server_address[1]}/")
        folder.mkdir(exist_ok=True)
        view.click("#results thead th:text-is('loss')")
        view.screenshot(path=str(folder / "dashboard-table.png"))
        view.click("#tabs button[data-view=trials]")
        view.select_option("#trials-metric", "loss")
        view.wait_for_selector("#trials-plot .scatterlayer .point")
        view.screenshot(path=str(folder / "dashboard-trials.png"))
        view.click("#tabs button[data-view=scatter]")
        view.select_option("#scatter-x", "x")
        view.select_option("#scatter-y", "y")
        view.select_option("#scatter-color", "loss/mean")
        view.wait_for_selector("#scatter-plot .scatterlayer .point")
        view.screenshot(path=str(folder / "dashboard-scatter.png"))
        view.click("#tabs button[data-view=parallel]")
        handle = view.locator(".brush-handle[data-name='loss']").bounding_box()
        assert handle is not None
        middle = handle["x"] + handle["width"] / 2
        view.mouse.move(middle, handle["y"] + handle["height"] * 0.75)
        view.mouse.down()
        view.mouse.move(middle, handle["y"] + handle["height"] - 5, steps=5)
        view.mouse.up()
        view.screenshot(path=str(folder / "dashboard-parallel.png"))
        view.click("#clear-brush")
        view.click("#tabs button[data-view=groups]")
        view.select_option("#groups-metric", "loss")
        view.wait_for_selector("#groups-plot .bars .point")
        view.screenshot(path=str(folder / "dashboard-groups.png"), full_page=True)
        view.click("#tabs button[data-view=table]")
        view.click("#results tbody tr >> nth=0")
        view.screenshot(path=str(folder / "dashboard-record.png"))
    finally:
        shooter.close()
        server.shutdown()
        server.server_close()
    views = ["groups", "parallel", "record", "scatter", "table", "trials"]
    assert sorted(path.name for path in folder.glob("dashboard-*.png")) == [
        f"dashboard-{view}.png" for view in views
    ]
