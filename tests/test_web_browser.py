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

import json
import math
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resulttracker import FsspecResultTracker, ResultTracker
from resulttracker.errors import InvalidQueryError
from resulttracker.query import parse_where, parse_where_text
from resulttracker.stats import IDENTIFIERS, aggregate, format_statistic
from resulttracker.web import make_app, write_report
from resulttracker.web.report import bundle_modules
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
            with pytest.raises(InvalidQueryError) as refused:
                parse_where_text(condition)
            assert error == str(refused.value), condition
    finally:
        checker.close()


WHERE_CASES_FILE = Path(__file__).with_name("where_cases.json")

# A function run in the page: every golden case through the page's parser.
CHECK_GOLDEN_CASES = Path(__file__).with_name("check_where_cases.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["report", "live"])
def test_the_page_parses_every_golden_where_case_as_the_library(
    browser: Any, tmp_path: Path, where: str
) -> None:
    source = WHERE_CASES_FILE.read_text(encoding="utf-8")
    golden = json.loads(source)
    tracker = FsspecResultTracker(tmp_path / "store")
    checker = Page(browser, offline=where == "report")
    server = None
    try:
        if where == "report":
            report = tmp_path / "empty.html"
            write_report(tracker, str(report))
            view = checker.open(report.as_uri())
        else:
            server = run_server(make_app(tracker, refresh=30), "127.0.0.1", 0)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            view = checker.open(f"http://127.0.0.1:{server.server_address[1]}/")
        outcome = json.loads(view.evaluate(CHECK_GOLDEN_CASES, source))
        assert outcome["checked"] == len(golden["parse_condition"]) + len(
            golden["parse_where_text"]
        )
        assert outcome["problems"] == []
        assert checker.errors == []
    finally:
        checker.close()
        if server is not None:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("where", ["report", "live"])
def test_a_refused_filter_shows_the_library_message(
    served: tuple[str, FsspecResultTracker], browser: Any, tmp_path: Path, where: str
) -> None:
    url, tracker = served
    checker = Page(browser, offline=where == "report")
    try:
        if where == "report":
            report = tmp_path / "report.html"
            write_report(tracker, str(report))
            url = report.as_uri()
        view = checker.open(url)
        before = table_keys(view)
        for text in [
            "acc > 0.3 or optimizer = adam",
            "acc >",
            "'acc > 1",
            "\U0001f600\U0001f600 ~ 1",
        ]:
            with pytest.raises(InvalidQueryError) as refused:
                parse_where_text(text)
            view.fill("#where", text)
            view.click("#apply")
            expect(view.locator("#filter-error")).to_have_text(str(refused.value))
            assert table_keys(view) == before  # the refused filter changed nothing
        view.fill("#where", "optimizer = adam AND acc > 0.3")
        view.click("#apply")
        expected = [
            r.key for r in tracker.select(None, parse_where_text("optimizer = adam AND acc > 0.3"))
        ]
        expect(view.locator("#row-count")).to_have_text(f"{len(expected)} results")
        assert view.text_content("#filter-error") == ""
        assert table_keys(view) == expected
        assert checker.errors == []
    finally:
        checker.close()


def test_a_bundle_runs_each_module_once_after_its_imports(browser: Any) -> None:
    script = bundle_modules(
        {
            "main.js": 'import { a } from "./a.js";\nimport { b } from "./b.js";\n'
            'import { runs } from "./base.js";\n'
            "const strict = (function () { return this; })() === undefined;\n"
            "window.bundled = { a: a, b: b(), runs: runs(), strict: strict };",
            "a.js": 'import { base } from "./base.js";\nexport const a = base + 1;',
            "b.js": 'import { base } from "./base.js";\nexport function b() { return base + 2; }',
            "base.js": "let count = 0;\ncount += 1;\nexport const base = 40;\n"
            "export function runs() { return count; }",
        }
    )
    checker = Page(browser)
    try:
        checker.page.set_content("<!doctype html><title>bundle</title>")
        checker.page.add_script_tag(content=script)
        found = checker.page.evaluate("() => window.bundled")
        assert found == {"a": 41, "b": 42, "runs": 1, "strict": True}
        assert checker.page.evaluate("() => typeof window.base") == "undefined"  # nothing leaks
        assert checker.errors == []
    finally:
        checker.close()


def test_the_page_groups_like_the_statistics_module(browser: Any, tmp_path: Path) -> None:
    report = tmp_path / "empty.html"
    write_report(FsspecResultTracker(tmp_path / "store"), str(report))
    replicas: dict[str, dict[str, Any]] = {
        "g/a/0": {"loss": 1.0, "acc/mean": 0.5, "acc/sem": 0.1, "m/mean": 2.0, "seed": 0},
        "g/a/1": {"loss": 3.0, "acc/mean": 0.7, "acc/sem": 0.2, "m": 4.0, "seed": 1},
        "g/a/2": {"loss": 8.5, "acc/mean": 0.6, "acc/sem": 0.05, "opt": "adam", "seed": 2},
        "g/b/0": {"loss": 2.0, "flag": True, "seed": 0},
    }
    for group in ("g/a", "g/b"):  # parameters: one value per group, kept as they are
        for key in replicas:
            if key.startswith(group):
                replicas[key].update(lr=0.1 if group == "g/a" else 0.2, x=1.799)
    expected = aggregate(replicas, by=-1)
    assert expected["g/a"]["lr"] == 0.1
    assert not any(name.startswith("seed") for name in expected["g/a"])
    checker = Page(browser)
    try:
        view = checker.open(report.as_uri())
        groups = {
            group: [results for key, results in replicas.items() if key.startswith(group + "/")]
            for group in ("g/a", "g/b")
        }
        found = view.evaluate("(groups) => window.resulttracker.aggregate(groups)", groups)
        for group, results in expected.items():
            metrics = {name.rsplit("/", 1)[0] for name in results if name.endswith("/mean")}
            parameters = {name for name in results if "/" not in name}
            assert set(found[group]) == metrics | parameters, group
            for name in parameters:
                assert found[group][name] == {"value": results[name]}, (group, name)
            for metric in metrics:
                mean, sem = results[f"{metric}/mean"], results[f"{metric}/sem"]
                assert found[group][metric]["mean"] == pytest.approx(mean), (group, metric)
                assert found[group][metric]["n"] == results[f"{metric}/n"], (group, metric)
                if isinstance(sem, float) and math.isnan(sem):
                    assert math.isnan(found[group][metric]["sem"]), (group, metric)
                else:
                    assert found[group][metric]["sem"] == pytest.approx(sem), (group, metric)
        assert view.evaluate("() => window.resulttracker.identifiers()") == sorted(IDENTIFIERS)
    finally:
        checker.close()


def test_the_page_rounds_statistics_like_the_statistics_module(
    browser: Any, tmp_path: Path
) -> None:
    report = tmp_path / "empty.html"
    write_report(FsspecResultTracker(tmp_path / "store"), str(report))
    cases = [
        (1.799, 1.57e-16),
        (1.7990000000000002, 0.0),
        (0.91234, 0.0123),
        (2.0, 0.57735),
        (12345.6, 678.9),
        (3, 1),
        (0.0, 0.0),
        (1e-9, 3e-11),
        (2.0, None),
        (-4.25, 0.031),
        (123456.789, 0.004),
        (7.0, 2e-5),
    ]
    checker = Page(browser)
    try:
        view = checker.open(report.as_uri())
        shown = view.evaluate(
            "(cases) => cases.map(([m, s]) => window.resulttracker.formatStatistic(m, s))",
            cases,
        )
        assert shown == [format_statistic(mean, sem) for mean, sem in cases]
        assert shown[0] == "1.799 ± 0.000"
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


# -- names that are also JavaScript's own property names (issue #12 item 14) -------------------

NAME_XSS = "<img src=x onerror=alert(7)>"
PROTO_NAMES = [
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "__defineGetter__",
    "isPrototypeOf",
    NAME_XSS,
]


def fill_hostile_names(tracker: ResultTracker) -> None:
    """Two groups of three replicas whose result names are Object.prototype's own."""
    for seed in range(3):
        tracker[f"names/__proto__/s{seed}"] = {
            "__proto__/mean": 2.0 + seed,
            "__proto__/sem": 0.5,
            "constructor": 1.0 + seed,
            "toString": 3.0 * seed,
            "hasOwnProperty": "adam",
            "valueOf": 7 + seed,
            "__defineGetter__": seed % 2 == 0,
            NAME_XSS: 0.5 + seed,
            "isPrototypeOf": "__proto__",
        }
        tracker[f"names/constructor/s{seed}"] = {
            "__proto__": 4.0 + seed,
            "constructor/mean": 5.0 + seed,
            "constructor/sem": 0.1,
            "valueOf": 1 + seed,
            NAME_XSS: 10.0 + seed,
            "toString": -seed,
        }
    tracker["names/toString"] = {"valueOf": "<b>text</b>", "hasOwnProperty": "toString"}


@pytest.fixture(params=["live", "report"])
def names_page(
    request: pytest.FixtureRequest, browser: Any, tmp_path: Path
) -> Iterator[tuple[Any, FsspecResultTracker]]:
    """The page (live, then offline report) over keys holding those names."""
    tracker = FsspecResultTracker(tmp_path / "store")
    fill_hostile_names(tracker)
    server = None
    if request.param == "live":
        server = run_server(make_app(tracker, refresh=0.3), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        opened = Page(browser)
    else:
        write_report(tracker, str(tmp_path / "names.html"))
        url = (tmp_path / "names.html").as_uri()
        opened = Page(browser, offline=True)
    try:
        yield opened.open(url), tracker
        assert opened.dialogs == [], "a script ran from the data"
        assert opened.errors == []
    finally:
        opened.close()
        if server is not None:
            server.shutdown()
            server.server_close()


def cells_by_key(view: Any, column: str) -> dict[str, str]:
    return dict(zip(table_keys(view), column_texts(view, column), strict=True))


def prototype_untouched(view: Any) -> None:
    found = view.evaluate(
        "() => [Object.getOwnPropertyNames(Object.prototype).sort().join(','),"
        " Object.getPrototypeOf({}) === Object.prototype, typeof ({}).toString,"
        " ({}).mean, ({}).value, ({}).sem]"
    )
    clean = view.evaluate(
        "() => { const frame = document.createElement('iframe'); document.body.append(frame);"
        " const names = Object.getOwnPropertyNames(frame.contentWindow.Object.prototype);"
        " frame.remove(); return names.sort().join(','); }"
    )
    assert found == [clean, True, "function", None, None, None]


def test_prototype_names_are_plain_columns(names_page: tuple[Any, FsspecResultTracker]) -> None:
    view, tracker = names_page
    assert view.text_content("#row-count") == "7 results"
    headers = view.locator("#results thead th").all_text_contents()
    assert sorted(headers) == sorted(["key", "modified", *PROTO_NAMES])
    assert cells_by_key(view, "__proto__") == {
        **{f"names/__proto__/s{s}": f"{2 + s} ± 0.5" for s in range(3)},
        **{f"names/constructor/s{s}": f"{4 + s}" for s in range(3)},
        "names/toString": "",
    }
    assert cells_by_key(view, "constructor") == {
        **{f"names/__proto__/s{s}": f"{1 + s}" for s in range(3)},
        **{f"names/constructor/s{s}": f"{5 + s} ± 0.1" for s in range(3)},
        "names/toString": "",
    }
    # a record without the name shows nothing, not the inherited function
    assert cells_by_key(view, "toString")["names/toString"] == ""
    assert cells_by_key(view, "valueOf")["names/toString"] == "<b>text</b>"
    assert cells_by_key(view, "hasOwnProperty")["names/toString"] == "toString"
    assert cells_by_key(view, "isPrototypeOf")["names/__proto__/s0"] == "__proto__"
    assert cells_by_key(view, "__defineGetter__")["names/__proto__/s1"] == "false"
    # sorting on such a column
    view.click("#results thead th:text-is('valueOf')")
    assert table_keys(view)[:6] == [
        *(f"names/constructor/s{s}" for s in range(3)),
        *(f"names/__proto__/s{s}" for s in range(3)),
    ]
    view.click("#results thead th:text-is('__proto__')")
    view.click("#results thead th:text-is('__proto__')")
    # descending: 6, 5, then the two 4s (one a plain value, one a mean), 3, 2
    keys = table_keys(view)
    assert keys[:2] == ["names/constructor/s2", "names/constructor/s1"]
    assert set(keys[2:4]) == {"names/constructor/s0", "names/__proto__/s2"}
    assert keys[4:6] == ["names/__proto__/s1", "names/__proto__/s0"]
    assert table_keys(view)[-1] == "names/toString"  # missing: last in both directions
    # hiding a column
    view.click("#columns summary")
    view.locator("#column-list label", has_text="constructor").locator("input").uncheck()
    assert "constructor" not in view.locator("#results thead th").all_text_contents()
    # the record view
    view.click("#results tbody tr:has(td.key:text-is('names/constructor/s1'))")
    names = view.locator("#detail-results tbody tr td:first-child").all_text_contents()
    assert sorted(names) == sorted(tracker["names/constructor/s1"])
    view.click("#detail-close")
    assert view.locator("img").count() == 0
    assert view.locator("b").count() == 0
    # the downloads hold every name as a name
    with view.expect_download() as download:
        view.click("#download-json")
    rows = json.loads(Path(download.value.path()).read_text())
    assert {row["key"]: row["results"] for row in rows} == {k: tracker[k] for k in tracker}
    with view.expect_download() as download:
        view.click("#download-csv")
    header = Path(download.value.path()).read_text().splitlines()[0].split(",")
    assert "__proto__/mean" in header
    assert "__proto__" in header
    assert "constructor" in header
    prototype_untouched(view)


def test_prototype_names_filter_plot_and_group(
    names_page: tuple[Any, FsspecResultTracker],
) -> None:
    view, tracker = names_page
    view.fill("#where", "'__proto__' > 4")
    view.click("#apply")
    expected = [r.key for r in tracker.select(None, "'__proto__' > 4")]
    assert expected == ["names/constructor/s1", "names/constructor/s2"]
    expect(view.locator("#row-count")).to_have_text("2 results")
    assert table_keys(view) == expected
    view.fill("#where", "")
    view.click("#apply")
    expect(view.locator("#row-count")).to_have_text("7 results")

    view.click("#tabs button[data-view=trials]")
    view.select_option("#trials-metric", "__proto__")
    view.wait_for_selector("#trials-plot .scatterlayer .point")
    assert view.locator("#trials-plot .scatterlayer .point").count() == 6
    assert view.locator("#trials-plot .errorbar").count() >= 3

    view.click("#tabs button[data-view=scatter]")
    view.select_option("#scatter-x", "constructor")
    view.select_option("#scatter-y", "toString")
    view.select_option("#scatter-color", "hasOwnProperty")
    view.wait_for_selector("#scatter-plot .legendtext")
    assert sorted(view.locator("#scatter-plot .legendtext").all_text_contents()) == [
        "(missing)",
        "adam",
    ]
    view.select_option("#scatter-color", NAME_XSS)
    view.wait_for_selector("#scatter-plot .colorbar")
    assert NAME_XSS in (view.text_content("#scatter-plot .colorbar") or "")
    # hover text: the key and the names, literally
    point = view.locator("#scatter-plot .scatterlayer .point").first.bounding_box()
    assert point is not None
    view.mouse.move(point["x"] + point["width"] / 2, point["y"] + point["height"] / 2)
    view.wait_for_selector("#scatter-plot .hoverlayer .hovertext")
    hover = view.text_content("#scatter-plot .hoverlayer") or ""
    assert "names/" in hover
    assert f"{NAME_XSS} = " in hover
    assert "constructor = " in hover

    view.click("#tabs button[data-view=parallel]")
    axes = view.locator("#parallel-axes label").all_text_contents()
    assert {text.strip() for text in axes} >= {"__proto__", "constructor", "valueOf", NAME_XSS}
    assert view.locator("#parallel-plot polyline").count() >= 3

    view.click("#tabs button[data-view=groups]")
    view.fill("#groups-k", "-1")
    view.dispatch_event("#groups-k", "change")
    view.select_option("#groups-metric", "__proto__")
    view.wait_for_selector("#groups-plot .bars .point")
    groups = view.locator("#groups-table tbody td:first-child").all_text_contents()
    assert groups == ["names", "names/__proto__", "names/constructor"]
    header = view.locator("#groups-table thead th").all_text_contents()
    records = {r.key: r.results for r in tracker.scan() if r.key.count("/") == 2}
    expected_groups = aggregate(records, by=-1)
    for metric in ("__proto__", "constructor", "valueOf", "toString", NAME_XSS):
        column = header.index(f"{metric} (mean ± sem, n)")
        for row, group in enumerate(groups[1:], start=2):
            text = view.locator(
                f"#groups-table tbody tr:nth-child({row}) td:nth-child({column + 1})"
            ).text_content()
            mean_text, rest = (text or "").split(" ± ")
            assert float(mean_text) == pytest.approx(
                expected_groups[group][f"{metric}/mean"], rel=1e-5
            )
            assert f"(n={expected_groups[group][f'{metric}/n']})" in rest
    view.select_option("#groups-by", "result")
    view.select_option("#groups-result", "hasOwnProperty")
    groups = view.locator("#groups-table tbody td:first-child").all_text_contents()
    assert groups == [
        "hasOwnProperty = adam",
        "hasOwnProperty = toString",
        "hasOwnProperty missing",
    ]
    view.select_option("#groups-result", "__proto__")
    groups = view.locator("#groups-table tbody td:first-child").all_text_contents()
    assert groups[-1] == "__proto__ missing"
    assert len(groups) == 4  # 4, 5, 6 and missing
    assert view.locator("img").count() == 0
    prototype_untouched(view)


# -- corrupt documents are listed on the page (issue #12 item 15) -------------------------------

CORRUPT_KEY = "bad/<img src=x onerror=alert(9)>"


@pytest.mark.parametrize("mode", ["live", "report"])
def test_corrupt_keys_are_listed_and_the_rest_shown(
    browser: Any, tmp_path: Path, mode: str
) -> None:
    tracker = FsspecResultTracker(tmp_path / "store")
    fill_sweep(tracker, trials=2, seeds=2)
    (tmp_path / "store" / "bad").mkdir()
    (tmp_path / "store" / CORRUPT_KEY).write_bytes(b'{"loss": ' + b"[" * 50_000)
    (tmp_path / "store" / "bad" / "truncated").write_bytes(b'{"loss": 0.')
    server = None
    if mode == "live":
        server = run_server(make_app(tracker, refresh=0.3), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        opened = Page(browser)
    else:
        assert write_report(tracker, str(tmp_path / "r.html")) == 4
        url = (tmp_path / "r.html").as_uri()
        opened = Page(browser, offline=True)
    try:
        view = opened.open(url)
        assert view.text_content("#row-count") == "4 results"
        expect(view.locator("#corrupt")).to_be_visible()
        assert view.text_content("#corrupt-summary") == "2 corrupt keys left out"
        view.click("#corrupt-summary")
        assert sorted(view.locator("#corrupt-list code").all_text_contents()) == sorted(
            ["bad/truncated", CORRUPT_KEY]
        )
        assert "not valid JSON" in (view.text_content("#corrupt-list") or "")
        assert view.locator("img").count() == 0
        if mode == "live":
            (tmp_path / "store" / "bad" / "truncated").write_bytes(b'{"loss": 0.5}')
            expect(view.locator("#corrupt-summary")).to_have_text(
                "1 corrupt key left out", timeout=10_000
            )
            expect(view.locator("#row-count")).to_have_text("5 results")
        assert opened.dialogs == []
        assert opened.errors == []
    finally:
        opened.close()
        if server is not None:
            server.shutdown()
            server.server_close()


# -- null, lists and objects as values (issue #12 item 7, the page's half) ------------------------


def odd_value_records() -> list[Any]:
    """Records as torchx may have stored them, built directly (no codec involved)."""
    from resulttracker.api import Record

    return [
        Record("odd/1", {"n": None, "l": [1, math.nan], "d": {"float": "nan"}, "loss": 1.0}),  # type: ignore[dict-item]
        Record("odd/2", {"n": 2.0, "l": "text", "d": {"a": [1, {"b": None}]}, "loss": 2.0}),  # type: ignore[dict-item]
        Record(
            "odd/3",
            {"n": 3, "l": [], "d": {}, "loss": 4.0, "<img src=x onerror=alert(10)>": [XSS_VALUE]},
        ),  # type: ignore[dict-item]
        Record("odd/empty", {}),
    ]


def test_null_lists_and_objects_are_shown_as_text_and_never_plotted(
    browser: Any, tmp_path: Path
) -> None:
    from resulttracker.web._records import records_payload
    from resulttracker.web.report import report_html

    payload = {
        "mode": "report",
        "store": "FsspecResultTracker",
        "generated": 0,
        "selection": {"prefix": "", "where": []},
        "records": records_payload(odd_value_records()),
    }
    destination = tmp_path / "odd.html"
    destination.write_text(report_html(payload), encoding="utf-8")
    opened = Page(browser, offline=True)
    try:
        view = opened.open(destination.as_uri())
        assert view.text_content("#row-count") == "4 results"
        assert cells_by_key(view, "n") == {
            "odd/1": "null",
            "odd/2": "2",
            "odd/3": "3",
            "odd/empty": "",
        }
        assert cells_by_key(view, "l") == {
            "odd/1": "[1, NaN]",
            "odd/2": "text",
            "odd/3": "[]",
            "odd/empty": "",
        }
        # a stored object that looks like the page's own encoding stays an object
        assert cells_by_key(view, "d") == {
            "odd/1": '{"float": "nan"}',
            "odd/2": '{"a": [1, {"b": null}]}',
            "odd/3": "{}",
            "odd/empty": "",
        }
        # sorting: numbers, then text, then null and nested values, then missing
        view.click("#results thead th:text-is('n')")
        assert table_keys(view) == ["odd/2", "odd/3", "odd/1", "odd/empty"]
        view.click("#results thead th:text-is('n')")
        assert table_keys(view) == ["odd/3", "odd/2", "odd/1", "odd/empty"]
        view.click("#results thead th:text-is('l')")
        assert table_keys(view)[0] == "odd/2"
        assert table_keys(view)[-1] == "odd/empty"
        # filtering: null and nested values match no condition
        for condition, expected in [
            ("n > 1", ["odd/2", "odd/3"]),
            ("n != 2", ["odd/3"]),
            ("l = text", ["odd/2"]),
            ("d = '{}'", []),
            ("n = null", []),
        ]:
            view.fill("#where", condition)
            view.click("#apply")
            expect(view.locator("#row-count")).to_have_text(f"{len(expected)} results")
            assert table_keys(view) == expected, condition
        view.fill("#where", "")
        view.click("#apply")
        # the record view
        view.click("#results tbody tr:has(td.key:text-is('odd/1'))")
        cells = view.locator("#detail-results tbody td").all_text_contents()
        assert cells == ["d", '{"float": "nan"}', "l", "[1, NaN]", "loss", "1", "n", "null"]
        view.click("#detail-close")
        view.click("#results tbody tr:has(td.key:text-is('odd/empty'))")
        assert view.locator("#detail-results tbody tr").count() == 0
        view.click("#detail-close")
        # numeric choices hold only what has numbers; plots skip the rest
        options = view.locator("#trials-metric option").all_text_contents()
        assert options == ["loss", "n"]
        view.click("#tabs button[data-view=trials]")
        view.select_option("#trials-metric", "n")
        view.wait_for_selector("#trials-plot .scatterlayer .point")
        assert view.locator("#trials-plot .scatterlayer .point").count() == 2
        view.click("#tabs button[data-view=scatter]")
        view.select_option("#scatter-x", "loss")
        view.select_option("#scatter-y", "n")
        view.select_option("#scatter-color", "l")
        view.wait_for_selector("#scatter-plot .legendtext")
        assert sorted(view.locator("#scatter-plot .legendtext").all_text_contents()) == [
            "[]",
            "text",
        ]
        view.click("#tabs button[data-view=parallel]")
        assert view.locator("#parallel-plot polyline").count() == 2
        view.click("#tabs button[data-view=groups]")
        view.fill("#groups-k", "1")
        view.dispatch_event("#groups-k", "change")
        header = view.locator("#groups-table thead th").all_text_contents()
        assert header == ["group", "keys", "loss (mean ± sem, n)"]  # n: null is not a number
        view.select_option("#groups-by", "result")
        view.select_option("#groups-result", "d")
        groups = view.locator("#groups-table tbody td:first-child").all_text_contents()
        assert groups == [
            'd = {"a": [1, {"b": null}]}',
            'd = {"float": "nan"}',
            "d = {}",
            "d missing",
        ]
        # downloads keep the values
        view.click("#tabs button[data-view=table]")
        with view.expect_download() as download:
            view.click("#download-json")
        download.value.save_as(tmp_path / "rows.json")
        rows = {
            row["key"]: row["results"] for row in json.loads((tmp_path / "rows.json").read_text())
        }
        assert rows["odd/2"] == {"n": 2, "l": "text", "d": {"a": [1, {"b": None}]}, "loss": 2}
        assert rows["odd/1"]["n"] is None
        assert rows["odd/1"]["d"] == {"float": "nan"}
        assert view.locator("img").count() == 0
        assert opened.dialogs == []
        assert opened.errors == []
    finally:
        opened.close()


def _codec_reads_torchx_values() -> bool:
    from resulttracker.codec import decode
    from resulttracker.errors import CorruptResultError

    try:
        decode(b'{"x": null, "y": [1], "z": {"a": 1}}', key="k", location="here")
    except CorruptResultError:
        return False
    return True


# Needs the read-tolerant codec of issue #12 item 7 (another branch): until it is
# merged the library refuses these documents as corrupt, and this test skips.
def test_torchx_documents_with_null_lists_and_objects_on_the_live_page(
    browser: Any, tmp_path: Path
) -> None:
    if not _codec_reads_torchx_values():
        pytest.skip("the codec does not read null, lists and objects yet (issue #12 item 7)")
    tracker = FsspecResultTracker(tmp_path / "store")
    folder = tmp_path / "store" / "odd"
    folder.mkdir(parents=True)
    (folder / "1").write_text('{"n": null, "l": [1, NaN], "loss": 1.0}')
    (folder / "2").write_text('{"n": 2.0, "l": {"a": null}, "loss": 2.0}')
    (folder / "empty").write_text("{}")
    server = run_server(make_app(tracker, refresh=0.3), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opened = Page(browser)
    try:
        view = opened.open(f"http://127.0.0.1:{server.server_address[1]}/")
        cells = cells_by_key(view, "n")
        assert (cells["odd/1"], cells["odd/2"]) == ("null", "2")
        assert cells_by_key(view, "l")["odd/2"] == '{"a": null}'
        assert view.locator("#corrupt").is_hidden()
        view.fill("#where", "n > 1")
        view.click("#apply")
        expect(view.locator("#row-count")).to_have_text("1 results")
        for view_name in ("trials", "scatter", "parallel", "groups"):
            view.click(f"#tabs button[data-view={view_name}]")
        assert opened.errors == []
        destination = tmp_path / "odd.html"
        write_report(tracker, str(destination))
        report = Page(browser, offline=True)
        try:
            offline = report.open(destination.as_uri())
            assert cells_by_key(offline, "n")["odd/1"] == "null"
            assert report.errors == []
        finally:
            report.close()
    finally:
        opened.close()
        server.shutdown()
        server.server_close()


def test_the_loading_note_goes_once_the_plots_appear(
    served: tuple[str, FsspecResultTracker], page: Page
) -> None:
    url, _ = served
    view = page.page
    # Hold plotly.js back until a plot view is open, so the note is shown first.
    held: list[Any] = []
    view.route("**/plotly.min.js", lambda route: held.append(route))
    page.open(url)
    view.click("#tabs button[data-view=scatter]")
    expect(view.locator("#scatter-plot p.plotly-loading")).to_have_count(1)
    assert len(held) == 1
    held[0].continue_()
    view.wait_for_selector("#scatter-plot .scatterlayer .point")
    expect(view.locator(".plot p.plotly-loading")).to_have_count(0)
    assert "loading the plotting library" not in (view.text_content("body") or "")
