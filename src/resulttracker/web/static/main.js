// resulttracker dashboard. Served by `resulttracker serve` (data from the JSON API,
// polled) or inlined by `resulttracker report` (data embedded in the page).
//
// The page is ES modules, one per concern (values, where, statistics, state, each
// view, live polling, downloads); this one wires them. The server serves them as they
// are; the report inlines them as one script (resulttracker.web.report.bundle_modules),
// so a module imports only with `import { names } from "./module.js";` and exports
// only with `export` before a function, class or const.
//
// Every key and value reaches the page through textContent or as plotly text with
// <, > and & written as entities: nothing from the store is ever parsed as HTML.
//
// Names are data, never property names: a record's results are a Map (name -> value),
// and so is everything built from them (groups, statistics, columns), so a result
// called __proto__, constructor or toString is a result like any other.
//
// Values: numbers (NaN and the infinities included), booleans and strings as they
// are; null; and a list or an object (documents written by torchx may hold them)
// as a Nested holding its JSON text, shown as text and never plotted or averaged.

import { $, setStatus, showCorrupt } from "./dom.js";
import { downloadCsv, downloadJson } from "./downloads.js";
import { poll } from "./live.js";
import { PAGE_SIZE, recompute, recomputeBrush, state } from "./state.js";
import { aggregateGroups, formatStatistic, IDENTIFIERS } from "./statistics.js";
import { renderTable, showDetail } from "./table.js";
import { decodeRecord, formatTime, toResults } from "./values.js";
import { loadPlotly, render, selectView } from "./views.js";
import { conditionMatches, parseCondition, parseWhere } from "./where.js";

function applyFilter() {
  const error = $("filter-error");
  error.textContent = "";
  let conditions;
  try {
    conditions = parseWhere($("where").value);
  } catch (problem) {
    error.textContent = problem.message;
    return;
  }
  state.prefix = $("prefix").value.trim().replace(/\/+$/, "");
  state.conditions = conditions;
  state.page = 0;
  if (state.mode === "report") {
    recompute();
    render();
  } else {
    state.cursor = null;
    state.records = new Map();
    poll(false);
  }
}

function wire() {
  $("filter").addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilter();
  });
  $("clear-brush").addEventListener("click", () => {
    state.brush = [];
    recomputeBrush();
    render();
  });
  for (const tab of document.querySelectorAll("#tabs button")) tab.addEventListener("click", () => selectView(tab.dataset.view));
  $("results").tHead.addEventListener("click", (event) => {
    const header = event.target.closest("th");
    if (!header) return;
    const column = header.dataset.column;
    state.sort = state.sort.column === column ? { column: column, direction: -state.sort.direction } : { column: column, direction: 1 };
    state.page = 0;
    renderTable();
  });
  $("results").tBodies[0].addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row && row.recordKey !== undefined) showDetail(row.recordKey);
  });
  const pages = () => Math.max(1, Math.ceil(state.shown.length / PAGE_SIZE));
  const go = (page) => {
    state.page = Math.max(0, Math.min(page, pages() - 1));
    renderTable();
  };
  $("page-first").addEventListener("click", () => go(0));
  $("page-previous").addEventListener("click", () => go(state.page - 1));
  $("page-next").addEventListener("click", () => go(state.page + 1));
  $("page-last").addEventListener("click", () => go(pages() - 1));
  $("download-csv").addEventListener("click", downloadCsv);
  $("download-json").addEventListener("click", downloadJson);
  for (const id of ["trials-metric", "trials-x", "trials-mode"]) $(id).addEventListener("change", render);
  for (const id of ["scatter-x", "scatter-y", "scatter-color"]) $(id).addEventListener("change", render);
  for (const id of ["groups-by", "groups-k", "groups-result", "groups-metric"]) $(id).addEventListener("change", render);
}

async function start() {
  wire();
  const embedded = document.getElementById("resulttracker-data");
  if (embedded) {
    const data = JSON.parse(embedded.textContent);
    state.mode = "report";
    for (const raw of data.records) state.records.set(raw.key, decodeRecord(raw));
    const selection = data.selection || {};
    const chosen = [selection.prefix ? "prefix " + selection.prefix : "", ...(selection.where || [])].filter(Boolean);
    $("source").textContent = "report of " + data.store + (chosen.length ? " (" + chosen.join(" and ") + ")" : "");
    setStatus("report generated " + formatTime(data.generated));
    showCorrupt(data.corrupt, data.corrupt_keys);
    recompute();
    render();
    return;
  }
  // The records and the config are fetched together; plotly.js (large) only after
  // the table is on screen, so that the table is usable as soon as possible.
  const config = fetch("/api/config", { cache: "no-store" }).then((response) => response.json());
  const first = poll(false);
  try {
    const settings = await config;
    state.refresh = settings.refresh;
    $("source").textContent = settings.store;
  } catch (problem) {
    setStatus("cannot reach the server: " + problem.message);
  }
  await first;
  // Parsing plotly.js takes the main thread for a while on a slow machine; do it
  // when a plot is first wanted, or once the page has been idle for a few seconds.
  setTimeout(loadPlotly, 3000);
}

// Exposed for the tests and the benchmark: read-only views of the page's state.
window.resulttracker = {
  // the filter box's text as the library's parse_where_text reads it (or its error)
  parseWhere: parseWhere,
  parseCondition: parseCondition,
  // plain objects from the tests, read as the page reads JSON
  matches: (conditions, results) => conditions.every((c) => conditionMatches(c, toResults(results))),
  // {group: [results...]} -> {group: {metric: {mean, sem, n} or {value}}}
  aggregate: (groups) => Object.fromEntries(Array.from(aggregateGroups(new Map(Object.entries(groups).map(([name, replicas]) => [name, replicas.map(toResults)])))).map(([name, metrics]) => [name, Object.fromEntries(metrics)])),
  formatStatistic: formatStatistic,
  identifiers: () => Array.from(IDENTIFIERS).sort(),
  shownKeys: () => state.shown.map((record) => record.key),
  pollNow: () => poll(false),
  brush: (name, low, high) => {
    state.brush = state.brush.filter((axis) => axis.name !== name).concat([{ name: name, ranges: [[low, high]] }]);
    recomputeBrush();
    render();
  },
};

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
