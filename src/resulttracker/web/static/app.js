// resulttracker dashboard. Served by `resulttracker serve` (data from the JSON API,
// polled) or inlined by `resulttracker report` (data embedded in the page).
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
(function () {
  "use strict";

  const PAGE_SIZE = 100;
  const MAX_CATEGORIES = 20;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "variant" });

  const state = {
    mode: "live",
    refresh: 5,
    records: new Map(), // key -> {key, results, modified}
    cursor: null,
    prefix: "",
    conditions: [], // parsed conditions (report mode filters with them)
    brush: [], // [{name, ranges: [[low, high], ...]}]
    sort: { column: "key", direction: 1 },
    page: 0,
    hidden: new Set(),
    view: "table",
    filtered: [], // records passing prefix and where, natural key order
    shown: [], // filtered and inside the brush
    columns: [],
    generation: 0,
  };

  const $ = (id) => document.getElementById(id);

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // -- values -----------------------------------------------------------------------

  class Nested {
    constructor(text) {
      this.text = String(text);
      Object.freeze(this);
    }
  }

  const own = (object, name) => Object.prototype.hasOwnProperty.call(object, name);

  function decodeValue(value) {
    if (value === null || typeof value !== "object") return value;
    if (own(value, "float")) {
      return value.float === "nan" ? NaN : value.float === "inf" ? Infinity : -Infinity;
    }
    return new Nested(own(value, "json") ? value.json : JSON.stringify(value));
  }

  // A plain object from JSON (whose own properties may be named __proto__) as a Map.
  function toResults(object) {
    return new Map(Object.entries(object).map(([name, value]) => [name, decodeValue(value)]));
  }

  function decodeRecord(raw) {
    return { key: String(raw.key), results: toResults(raw.results), modified: raw.modified };
  }

  function isNumber(value) {
    return typeof value === "number" || typeof value === "boolean";
  }

  // What a value can be compared as: 0 numbers, 1 strings, 2 anything else (null, nested).
  function kindOf(value) {
    return isNumber(value) ? 0 : typeof value === "string" ? 1 : 2;
  }

  function asNumber(value) {
    return typeof value === "boolean" ? (value ? 1 : 0) : value;
  }

  function formatNumber(value) {
    if (typeof value === "boolean") return String(value);
    if (Number.isNaN(value)) return "nan";
    if (value === Infinity) return "inf";
    if (value === -Infinity) return "-inf";
    if (Number.isInteger(value)) return String(value);
    const magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e6)) return value.toExponential(4);
    return String(Number(value.toPrecision(6)));
  }

  function formatValue(value) {
    if (isNumber(value)) return formatNumber(value);
    if (value === null) return "null";
    if (value instanceof Nested) return value.text;
    return String(value);
  }

  function formatTime(seconds) {
    if (seconds === null || seconds === undefined) return "unknown";
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  // Plotly reads a small HTML subset in every label; entities make any text literal.
  function plotlyText(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // -- the where syntax (resulttracker.query), for the report's in-page filter ----------

  const OPERATORS = ["<=", ">=", "!=", "==", "=", "<", ">"];
  const OPERATOR_CHARACTERS = "=!<>";
  const QUOTES = "'\"";
  const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
  const SPECIAL_NUMBERS = new Map([
    ["nan", NaN], ["+nan", NaN], ["-nan", NaN], ["inf", Infinity], ["+inf", Infinity],
    ["infinity", Infinity], ["+infinity", Infinity], ["-inf", -Infinity], ["-infinity", -Infinity],
    ["true", 1], ["false", 0],
  ]);

  class QueryError extends Error {
    constructor(reason, text, position) {
      super(reason + "\n  " + text + "\n  " + " ".repeat(position) + "^");
    }
  }

  function isSpace(character) {
    return /\s/.test(character);
  }

  // Parse "cond and cond and ...": a list of {name, operator, text, number, source}.
  function parseWhere(text) {
    const conditions = [];
    let position = 0;
    const fail = (reason, at) => new QueryError(reason, text, at === undefined ? position : at);
    const skipSpaces = () => {
      while (position < text.length && isSpace(text[position])) position += 1;
    };
    const quoted = () => {
      const opening = position;
      const quote = text[position];
      position += 1;
      let pieces = "";
      while (position < text.length) {
        const character = text[position];
        if (character === "\\") {
          if (position + 1 >= text.length) break;
          pieces += text[position + 1];
          position += 2;
        } else if (character === quote) {
          position += 1;
          return pieces;
        } else {
          pieces += character;
          position += 1;
        }
      }
      throw fail("the quote " + quote + " opened here is never closed", opening);
    };
    const term = (what) => {
      if (QUOTES.includes(text[position])) return [quoted(), true];
      const start = position;
      while (position < text.length) {
        const character = text[position];
        if (isSpace(character) || QUOTES.includes(character) || OPERATOR_CHARACTERS.includes(character)) break;
        position += 1;
      }
      if (position === start) {
        if (what === "name") throw fail("expected a name before '" + text[position] + "'");
        throw fail("a bare value cannot start with '" + text[position] + "'; quote a value that does");
      }
      if (what === "value" && position < text.length && !isSpace(text[position])) {
        throw fail("unexpected '" + text[position] + "' in a bare value; quote the value");
      }
      return [text.slice(start, position), false];
    };
    skipSpaces();
    if (position >= text.length) return conditions;
    for (;;) {
      skipSpaces();
      if (position >= text.length) throw fail("expected a condition after 'and'");
      const start = position;
      const [name] = term("name");
      if (!name) throw fail("the name is empty", start);
      skipSpaces();
      const operator = OPERATORS.find((op) => text.startsWith(op, position));
      if (!operator) {
        throw fail("expected an operator (one of = != < <= > >=)" + (position < text.length ? ", found '" + text[position] + "'" : " after the name"));
      }
      position += operator.length;
      skipSpaces();
      if (position >= text.length) throw fail("expected a value after '" + operator + "'");
      const [value, isQuoted] = term("value");
      const source = text.slice(start, position);
      let number = null;
      if (!isQuoted) {
        const lowered = value.toLowerCase();
        if (SPECIAL_NUMBERS.has(lowered)) number = SPECIAL_NUMBERS.get(lowered);
        else if (NUMBER.test(value)) number = Number(value);
      }
      conditions.push({ name: name, operator: operator === "==" ? "=" : operator, text: value, number: number, source: source });
      skipSpaces();
      if (position >= text.length) return conditions;
      const joiner = text.slice(position, position + 4);
      if (/^and\s$/i.test(joiner)) {
        position += 4;
      } else {
        throw fail("unexpected text after the value; join conditions with 'and' and quote a value that holds spaces");
      }
    }
  }

  function ordered(left, operator, right) {
    if (operator === "<") return left < right;
    if (operator === "<=") return left <= right;
    if (operator === ">") return left > right;
    return left >= right;
  }

  function compareCodePoints(left, right) {
    // JavaScript compares UTF-16 units; Python compares code points. Same except past U+FFFF.
    const a = Array.from(left), b = Array.from(right);
    for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
      const difference = a[index].codePointAt(0) - b[index].codePointAt(0);
      if (difference !== 0) return difference;
    }
    return a.length - b.length;
  }

  // results: a Map. null and nested values match no condition (not even !=).
  function conditionMatches(condition, results) {
    if (!results.has(condition.name)) return false;
    const stored = results.get(condition.name);
    if (typeof stored === "string") {
      if (condition.operator === "=") return stored === condition.text;
      if (condition.operator === "!=") return stored !== condition.text;
      return ordered(compareCodePoints(stored, condition.text), condition.operator, 0);
    }
    if (condition.number === null || !isNumber(stored)) return false;
    const left = asNumber(stored), right = condition.number;
    const leftNaN = Number.isNaN(left), rightNaN = Number.isNaN(right);
    if (condition.operator === "=" || condition.operator === "!=") {
      const equal = leftNaN || rightNaN ? leftNaN && rightNaN : left === right;
      return condition.operator === "=" ? equal : !equal;
    }
    if (leftNaN || rightNaN) return false;
    return ordered(left, condition.operator, right);
  }

  function inPrefix(key, prefix) {
    return !prefix || key === prefix || key.startsWith(prefix + "/");
  }

  // -- statistics (resulttracker.stats.group and aggregate, for groups in the page) ------

  function splitName(name, results) {
    const slash = name.lastIndexOf("/");
    if (slash > 0) {
      const head = name.slice(0, slash), tail = name.slice(slash + 1);
      if (tail && tail !== "value" && results.has(head + "/mean")) return [head, tail];
    }
    return [name, "value"];
  }

  // metric -> (statistic -> value), both Maps
  function groupResults(results) {
    const grouped = new Map();
    for (const [name, value] of results) {
      const [metric, statistic] = splitName(name, results);
      if (!grouped.has(metric)) grouped.set(metric, new Map());
      grouped.get(metric).set(statistic, value);
    }
    return grouped;
  }

  function metricOf(results, name) {
    if (results.has(name)) {
      const value = results.get(name);
      return isNumber(value) ? { value: asNumber(value), sem: null } : null;
    }
    const mean = results.get(name + "/mean");
    if (!isNumber(mean)) return null;
    const sem = results.get(name + "/sem");
    return { value: asNumber(mean), sem: isNumber(sem) ? asNumber(sem) : null };
  }

  function summarize(samples) {
    const kept = samples.filter((value) => !Number.isNaN(value));
    const n = kept.length;
    const mean = n ? kept.reduce((a, b) => a + b, 0) / n : NaN;
    const std = n > 1 ? Math.sqrt(kept.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1)) : NaN;
    return { mean: mean, sem: n > 1 ? std / Math.sqrt(n) : NaN, n: n };
  }

  // Result names that identify a replica (resulttracker.stats.IDENTIFIERS): never averaged.
  const IDENTIFIERS = new Set(["local_rank", "rank", "replica", "seed", "worker"]);

  // replicas: Maps of results -> metric -> [each replica's statistics (a Map)]
  function perMetricOf(replicas) {
    const perMetric = new Map();
    for (const results of replicas) {
      for (const [metric, statistics] of groupResults(results)) {
        if (!perMetric.has(metric)) perMetric.set(metric, []);
        perMetric.get(metric).push(statistics);
      }
    }
    return perMetric;
  }

  function sameValue(value, other) {
    if (isNumber(value) && isNumber(other) && typeof value !== "boolean" && typeof other !== "boolean") {
      return value === other || (Number.isNaN(value) && Number.isNaN(other));
    }
    return typeof value === typeof other && value === other && !(value instanceof Nested);
  }

  function samePlainValue(reports) {
    if (reports.some((report) => report.size !== 1 || !report.has("value"))) return false;
    const first = reports[0].get("value");
    return reports.every((report) => sameValue(report.get("value"), first));
  }

  // groups: Map of group name -> replicas (Maps of results), as resulttracker.stats.aggregate:
  // a name that every replica of every group holds with one value per group is a parameter,
  // kept as it is ({value}); any other numeric name is a measurement ({mean, sem, n}) in
  // every group; identifiers and text that vary are left out.
  function aggregateGroups(groups) {
    const perGroup = new Map();
    for (const [name, replicas] of groups) perGroup.set(name, perMetricOf(replicas));
    const varying = new Set();
    for (const [name, perMetric] of perGroup) {
      for (const [metric, reports] of perMetric) {
        if (reports.length !== groups.get(name).length || !samePlainValue(reports)) varying.add(metric);
      }
    }
    const combined = new Map();
    for (const [name, perMetric] of perGroup) combined.set(name, combine(perMetric, varying));
    return combined;
  }

  function combine(perMetric, varying) {
    const combined = new Map();
    for (const [metric, reports] of perMetric) {
      if (!varying.has(metric)) {
        combined.set(metric, { value: reports[0].get("value") });
        continue;
      }
      const used = reports.flatMap((report) => ["value", "mean", "sem"].filter((field) => report.has(field)).map((field) => report.get(field)));
      if (IDENTIFIERS.has(metric) || used.some((value) => !isNumber(value))) continue;
      if (reports.every((report) => !report.has("value") && report.has("sem"))) {
        const kept = reports.filter((report) => report.has("mean") && !Number.isNaN(asNumber(report.get("mean"))));
        const n = kept.length;
        combined.set(metric, {
          mean: n ? kept.reduce((a, report) => a + asNumber(report.get("mean")), 0) / n : NaN,
          sem: n ? Math.hypot(...kept.map((report) => asNumber(report.get("sem")))) / n : NaN,
          n: n,
        });
      } else {
        combined.set(metric, summarize(reports.map((report) => asNumber(report.has("value") ? report.get("value") : report.get("mean")))));
      }
    }
    return combined;
  }

  // Python's format(value, ".<precision>g").
  function formatG(value, precision) {
    if (Number.isNaN(value)) return "nan";
    if (value === Infinity) return "inf";
    if (value === -Infinity) return "-inf";
    if (value === 0) return Object.is(value, -0) ? "-0" : "0";
    const [mantissa, exponentText] = value.toExponential(precision - 1).split("e");
    const exponent = Number(exponentText);
    const strip = (text) => (text.includes(".") ? text.replace(/\.?0+$/, "") : text);
    if (exponent < -4 || exponent >= precision) {
      return strip(mantissa) + "e" + (exponent < 0 ? "-" : "+") + String(Math.abs(exponent)).padStart(2, "0");
    }
    return strip(value.toFixed(Math.max(0, precision - 1 - exponent)));
  }

  // mean ± sem rounded to what the uncertainty justifies (resulttracker.stats.format_statistic).
  function formatStatistic(mean, sem) {
    mean = asNumber(mean);
    if (sem === null || sem === undefined || !Number.isFinite(sem) || !Number.isFinite(mean)) {
      const shown = formatG(mean, 6);
      return sem === null || sem === undefined ? shown : shown + " ± " + formatG(sem, 2);
    }
    sem = Math.abs(asNumber(sem));
    const exponentOf = (value) => Math.floor(Math.log10(Math.abs(value)));
    let digits;
    if (sem <= Math.abs(mean) * 1e-12) {
      digits = mean ? 3 - exponentOf(mean) : 3;
      sem = 0;
    } else {
      digits = 1 - exponentOf(sem);
    }
    if (!(digits >= -6 && digits <= 8) || Math.abs(mean) >= 1e15) return formatG(mean, 6) + " ± " + formatG(sem, 2);
    if (digits < 0) {
      const factor = 10 ** -digits;
      mean = Math.round(mean / factor) * factor;
      sem = Math.round(sem / factor) * factor;
    }
    const decimals = Math.max(digits, 0);
    return mean.toFixed(decimals) + " ± " + sem.toFixed(decimals);
  }

  // -- columns and cells ------------------------------------------------------------------

  function columnsOf(records) {
    const columns = new Map(); // id -> column
    const add = (name, kind) => {
      const id = JSON.stringify([kind, name]);
      if (!columns.has(id)) columns.set(id, { id: id, name: name, kind: kind });
    };
    for (const record of records) {
      for (const [metric, statistics] of groupResults(record.results)) {
        for (const statistic of statistics.keys()) {
          if (statistic === "value" || statistic === "mean") add(metric, "main");
          else if (statistic !== "sem") add(metric + "/" + statistic, "plain");
        }
      }
    }
    return Array.from(columns.values()).sort((a, b) => collator.compare(a.name, b.name));
  }

  // {value, sem}: value undefined when the record has no such result.
  function cellOf(record, column) {
    const results = record.results;
    if (column.kind === "plain" || results.has(column.name)) return { value: results.get(column.name), sem: null };
    const sem = results.get(column.name + "/sem");
    return { value: results.get(column.name + "/mean"), sem: sem === undefined ? null : sem };
  }

  function cellText(cell) {
    if (cell.value === undefined) return "";
    if (cell.sem !== null && isNumber(cell.value) && isNumber(cell.sem)) {
      return formatNumber(cell.value) + " ± " + formatNumber(cell.sem);
    }
    return formatValue(cell.value);
  }

  function numericNames(records) {
    const names = new Set();
    for (const record of records) {
      for (const [name, value] of record.results) {
        const [metric, statistic] = splitName(name, record.results);
        if ((statistic === "value" || statistic === "mean") && isNumber(value)) names.add(metric);
      }
    }
    return Array.from(names).sort(collator.compare);
  }

  function allNames(records) {
    const names = new Set();
    for (const record of records) for (const name of record.results.keys()) names.add(name);
    return Array.from(names).sort(collator.compare);
  }

  // Numbers, then text, then null and nested values (as their text); missing and NaN
  // values last. Only the order within each kind follows the direction.
  function compareCells(a, b, direction) {
    const aMissing = a === undefined || (typeof a === "number" && Number.isNaN(a));
    const bMissing = b === undefined || (typeof b === "number" && Number.isNaN(b));
    if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
    const aKind = kindOf(a), bKind = kindOf(b);
    if (aKind !== bKind) return aKind - bKind;
    const order = aKind === 0 ? asNumber(a) - asNumber(b) : collator.compare(formatValue(a), formatValue(b));
    return direction * (order > 0 ? 1 : order < 0 ? -1 : 0);
  }

  // -- the filter and the brush --------------------------------------------------------

  function recompute() {
    const all = Array.from(state.records.values());
    const filtered = state.mode === "report"
      ? all.filter((record) => inPrefix(record.key, state.prefix) && state.conditions.every((c) => conditionMatches(c, record.results)))
      : all;
    filtered.sort((a, b) => collator.compare(a.key, b.key));
    state.filtered = filtered;
    state.shown = filtered.filter(insideBrush);
    state.columns = columnsOf(filtered);
    state.generation += 1;
  }

  function insideBrush(record) {
    for (const axis of state.brush) {
      const found = metricOf(record.results, axis.name);
      if (!found || Number.isNaN(found.value)) return false;
      if (!axis.ranges.some((range) => found.value >= range[0] && found.value <= range[1])) return false;
    }
    return true;
  }

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

  // -- live data ------------------------------------------------------------------------

  let pollTimer = null;

  function recordsAddress() {
    const parameters = new URLSearchParams();
    if (state.cursor) parameters.append("since", state.cursor);
    if (state.prefix) parameters.append("prefix", state.prefix);
    for (const condition of state.conditions) parameters.append("where", condition.source);
    const text = parameters.toString();
    return "/api/records" + (text ? "?" + text : "");
  }

  async function poll(scheduled) {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
    try {
      const response = await fetch(recordsAddress(), { headers: { Accept: "application/json" }, cache: "no-store" });
      const body = await response.json();
      if (!response.ok) {
        state.cursor = null; // whatever went wrong, the next poll starts afresh
        $("filter-error").textContent = typeof body.error === "string" ? body.error : response.statusText;
        setStatus("error");
      } else {
        merge(body);
      }
    } catch (problem) {
      setStatus("cannot reach the server (" + problem.message + "); retrying");
    }
    pollTimer = setTimeout(() => poll(true), state.refresh * 1000);
    return scheduled;
  }

  function merge(body) {
    if (body.full) state.records = new Map();
    let changed = body.full;
    for (const raw of body.records) {
      state.records.set(raw.key, decodeRecord(raw));
      changed = true;
    }
    for (const key of body.removed) changed = state.records.delete(key) || changed;
    state.cursor = body.cursor;
    if (state.records.size !== body.count) {
      state.cursor = null; // out of step: the next poll loads everything again
    }
    showCorrupt(body.corrupt, body.corrupt_keys);
    setStatus("live · every " + state.refresh + " s · updated " + new Date().toLocaleTimeString());
    if (changed) {
      recompute();
      render();
    }
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  // Keys left out because their documents could not be read: how many, and which.
  function showCorrupt(count, listed) {
    const entries = Array.isArray(listed) ? listed : [];
    const total = Number.isInteger(count) ? count : entries.length;
    const box = $("corrupt");
    box.hidden = total === 0;
    $("corrupt-summary").textContent = total === 1
      ? "1 corrupt key left out"
      : total + " corrupt keys left out" + (entries.length < total ? " (the first " + entries.length + " listed)" : "");
    $("corrupt-list").replaceChildren(...entries.map((entry) => {
      const item = element("li");
      item.append(element("code", entry.key), document.createTextNode(": " + String(entry.reason)));
      return item;
    }));
  }

  // -- rendering --------------------------------------------------------------------------

  function render() {
    $("row-count").textContent = state.shown.length === state.filtered.length
      ? state.filtered.length + " results"
      : state.shown.length + " of " + state.filtered.length + " results (brushed)";
    $("clear-brush").hidden = state.brush.length === 0;
    refreshSelects();
    const view = state.view;
    if (view !== "table" && view !== "parallel" && typeof window.Plotly === "undefined") {
      // plotly.js loads after the table (async): the table is usable sooner.
      const plot = document.querySelector("#view-" + view + " .plot");
      plot.replaceChildren(element("p", "loading the plotting library…", "hint plotly-loading"));
      loadPlotly();
    } else if (view === "table") renderTable();
    else if (view === "trials") renderTrials();
    else if (view === "scatter") renderScatter();
    else if (view === "parallel") renderParallel();
    else if (view === "groups") renderGroups();
    document.body.dataset.state = "ready";
    document.body.dataset.generation = String(state.generation);
  }

  function sortedRows() {
    const rows = state.shown.slice();
    const sort = state.sort;
    if (sort.column === "key") {
      if (sort.direction < 0) rows.reverse();
      return rows;
    }
    if (sort.column === "modified") {
      return rows.sort((a, b) => compareCells(a.modified === null ? undefined : a.modified, b.modified === null ? undefined : b.modified, sort.direction));
    }
    const column = state.columns.find((c) => c.id === sort.column);
    if (!column) return rows;
    return rows.sort((a, b) => compareCells(cellOf(a, column).value, cellOf(b, column).value, sort.direction));
  }

  function renderTable() {
    const columns = state.columns.filter((column) => !state.hidden.has(column.id));
    const head = $("results").tHead;
    const headRow = element("tr");
    const headers = [{ id: "key", name: "key" }, ...columns, { id: "modified", name: "modified" }];
    for (const column of headers) {
      const cell = element("th", column.name);
      cell.dataset.column = column.id;
      cell.title = "Sort by " + column.name;
      if (state.sort.column === column.id) cell.setAttribute("aria-sort", state.sort.direction > 0 ? "ascending" : "descending");
      headRow.appendChild(cell);
    }
    head.replaceChildren(headRow);
    const rows = sortedRows();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const body = document.createDocumentFragment();
    for (const record of rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)) {
      const row = element("tr");
      row.appendChild(element("td", record.key, "key"));
      for (const column of columns) {
        const cell = cellOf(record, column);
        const missing = cell.value === undefined;
        row.appendChild(element("td", cellText(cell), missing ? "missing" : isNumber(cell.value) ? "number" : ""));
      }
      row.appendChild(element("td", formatTime(record.modified)));
      row.recordKey = record.key;
      body.appendChild(row);
    }
    $("results").tBodies[0].replaceChildren(body);
    $("page-label").textContent = "page " + (state.page + 1) + " of " + pages;
    renderColumnList();
  }

  function renderColumnList() {
    const list = $("column-list");
    const nodes = state.columns.map((column) => {
      const label = element("label");
      const box = element("input");
      box.type = "checkbox";
      box.checked = !state.hidden.has(column.id);
      box.addEventListener("change", () => {
        if (box.checked) state.hidden.delete(column.id);
        else state.hidden.add(column.id);
        renderTable();
      });
      label.append(box, document.createTextNode(" " + column.name));
      return label;
    });
    list.replaceChildren(...nodes);
  }

  function showDetail(key) {
    const record = state.records.get(key);
    if (!record) return;
    $("detail-key").textContent = record.key;
    $("detail-modified").textContent = formatTime(record.modified);
    const rows = Array.from(record.results.keys()).sort(collator.compare).map((name) => {
      const row = element("tr");
      row.append(element("td", name), element("td", formatValue(record.results.get(name))));
      return row;
    });
    $("detail-results").tBodies[0].replaceChildren(...rows);
    const dialog = $("detail");
    if (!dialog.open) dialog.showModal();
  }

  // Keep each select's choice while its options follow the data.
  function fillSelect(select, names, fallbackIndex, extra) {
    const previous = select.value;
    const options = (extra || []).concat(names.map((name) => [name, name]));
    const signature = JSON.stringify(options);
    if (select.dataset.signature !== signature) {
      select.replaceChildren(...options.map(([value, label]) => {
        const option = element("option", label);
        option.value = value;
        return option;
      }));
      select.dataset.signature = signature;
    }
    if (options.some(([value]) => value === previous)) select.value = previous;
    else if (options.length) select.value = options[Math.min(fallbackIndex, options.length - 1)][0];
  }

  function refreshSelects() {
    const numeric = numericNames(state.filtered);
    fillSelect($("trials-metric"), numeric, 0);
    fillSelect($("scatter-x"), numeric, 0);
    fillSelect($("scatter-y"), numeric, 1);
    fillSelect($("scatter-color"), allNames(state.filtered), 2, [["", "(none)"]]);
    fillSelect($("groups-result"), allNames(state.filtered), 0);
    fillSelect($("groups-metric"), numeric, 0);
  }

  const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

  function baseLayout(extra) {
    return Object.assign({ margin: { t: 30, r: 20, b: 60, l: 70 }, hovermode: "closest", font: { size: 12 } }, extra);
  }

  function emptyPlot(target, message) {
    Plotly.react(target, [], baseLayout({
      xaxis: { visible: false }, yaxis: { visible: false },
      annotations: [{ text: plotlyText(message), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
    }), PLOT_CONFIG);
  }

  function renderTrials() {
    const name = $("trials-metric").value;
    const byTime = $("trials-x").value === "modified";
    const mode = $("trials-mode").value;
    const points = [];
    state.shown.forEach((record, index) => {
      const found = metricOf(record.results, name);
      if (!found || Number.isNaN(found.value)) return;
      const x = byTime ? (record.modified === null ? null : new Date(record.modified * 1000)) : index;
      if (x === null) return;
      points.push({ x: x, y: found.value, sem: found.sem, key: record.key });
    });
    if (!points.length) return emptyPlot("trials-plot", name ? "no numeric " + name + " in the selected results" : "no numeric results");
    points.sort((a, b) => a.x - b.x);
    let best = null;
    const bestY = points.map((point) => {
      best = best === null ? point.y : mode === "min" ? Math.min(best, point.y) : Math.max(best, point.y);
      return best;
    });
    const hasSem = points.some((point) => point.sem !== null);
    const trials = {
      type: "scatter",
      mode: "markers",
      name: plotlyText(name),
      x: points.map((point) => point.x),
      y: points.map((point) => point.y),
      hovertext: points.map((point) => plotlyText(point.key) + "<br>" + plotlyText(name) + " = " + formatNumber(point.y) + (point.sem === null ? "" : " ± " + formatNumber(point.sem))),
      hoverinfo: "text",
      marker: { size: 6, color: "#0969da", opacity: 0.7 },
    };
    if (hasSem) trials.error_y = { type: "data", array: points.map((point) => (point.sem === null ? 0 : point.sem)), visible: true, thickness: 1, width: 2, color: "#8cb4e6" };
    const line = {
      type: "scatter", mode: "lines", name: "best so far (" + mode + ")",
      x: points.map((point) => point.x), y: bestY, line: { shape: "hv", color: "#cf222e", width: 2 }, hoverinfo: "skip",
    };
    Plotly.react("trials-plot", [trials, line], baseLayout({
      xaxis: { title: { text: byTime ? "modified" : "trial (natural key order)" } },
      yaxis: { title: { text: plotlyText(name) } },
      legend: { orientation: "h", y: 1.08 },
    }), PLOT_CONFIG);
  }

  function renderScatter() {
    const xName = $("scatter-x").value, yName = $("scatter-y").value, colorName = $("scatter-color").value;
    const points = [];
    for (const record of state.shown) {
      const x = metricOf(record.results, xName), y = metricOf(record.results, yName);
      if (!x || !y) continue;
      points.push({ x: x.value, y: y.value, key: record.key, color: colorName ? record.results.get(colorName) : undefined });
    }
    if (!points.length) return emptyPlot("scatter-plot", "no results with both " + xName + " and " + yName);
    const hover = (point) => plotlyText(point.key) + "<br>" + plotlyText(xName) + " = " + formatNumber(point.x) + "<br>" + plotlyText(yName) + " = " + formatNumber(point.y) + (colorName ? "<br>" + plotlyText(colorName) + " = " + plotlyText(point.color === undefined ? "missing" : formatValue(point.color)) : "");
    const axes = { xaxis: { title: { text: plotlyText(xName) } }, yaxis: { title: { text: plotlyText(yName) } } };
    const numericColor = colorName && points.every((point) => point.color === undefined || isNumber(point.color));
    let traces;
    if (!colorName || numericColor) {
      const marker = { size: 8, opacity: 0.8 };
      if (numericColor) {
        marker.color = points.map((point) => (point.color === undefined ? NaN : asNumber(point.color)));
        marker.colorscale = "Viridis";
        marker.showscale = true;
        marker.colorbar = { title: { text: plotlyText(colorName) } };
      }
      traces = [{ type: "scatter", mode: "markers", x: points.map((p) => p.x), y: points.map((p) => p.y), hovertext: points.map(hover), hoverinfo: "text", marker: marker, showlegend: false }];
    } else {
      const categories = new Map();
      for (const point of points) {
        const label = point.color === undefined ? "(missing)" : formatValue(point.color);
        if (!categories.has(label)) categories.set(label, []);
        categories.get(label).push(point);
      }
      const labels = Array.from(categories.keys()).sort(collator.compare);
      const kept = labels.slice(0, MAX_CATEGORIES);
      const other = labels.slice(MAX_CATEGORIES).flatMap((label) => categories.get(label));
      traces = kept.map((label) => ({ label: label, points: categories.get(label) }));
      if (other.length) traces.push({ label: "(" + (labels.length - MAX_CATEGORIES) + " more)", points: other });
      traces = traces.map((group) => ({
        type: "scatter", mode: "markers", name: plotlyText(group.label),
        x: group.points.map((p) => p.x), y: group.points.map((p) => p.y),
        hovertext: group.points.map(hover), hoverinfo: "text", marker: { size: 8, opacity: 0.8 },
      }));
    }
    Plotly.react("scatter-plot", traces, baseLayout(Object.assign(axes, { legend: { title: { text: plotlyText(colorName) } } })), PLOT_CONFIG);
  }

  const parallelChoice = new Set();

  // Parallel coordinates are drawn as SVG here (plotly's parcoords needs WebGL, which
  // headless and locked-down browsers often lack). Drag along an axis to brush it;
  // click an axis without dragging to clear its brush.
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const name of Object.keys(attributes || {})) node.setAttribute(name, String(attributes[name]));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function niceTicks(low, high, count) {
    if (!(high > low)) return [low];
    const step = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
    const multiple = [1, 2, 5, 10].find((m) => (high - low) / (step * m) <= count) || 10;
    const size = step * multiple;
    const ticks = [];
    for (let tick = Math.ceil(low / size) * size; tick <= high + size * 1e-9; tick += size) ticks.push(Number(tick.toPrecision(12)));
    return ticks;
  }

  function renderParallel() {
    const numeric = numericNames(state.filtered);
    if (!parallelChoice.size) numeric.slice(0, 6).forEach((name) => parallelChoice.add(name));
    const axesBox = $("parallel-axes");
    axesBox.replaceChildren(...numeric.map((name) => {
      const label = element("label");
      const box = element("input");
      box.type = "checkbox";
      box.checked = parallelChoice.has(name);
      box.addEventListener("change", () => {
        if (box.checked) parallelChoice.add(name);
        else {
          parallelChoice.delete(name);
          state.brush = state.brush.filter((axis) => axis.name !== name);
          recomputeBrush();
        }
        renderParallel();
      });
      label.append(box, document.createTextNode(" " + name));
      return label;
    }));
    const chosen = numeric.filter((name) => parallelChoice.has(name));
    const plot = $("parallel-plot");
    // Every filtered record is drawn (brushed-out ones in grey) so a brush can be widened again.
    const rows = [];
    for (const record of state.filtered) {
      const values = chosen.map((name) => metricOf(record.results, name));
      if (values.every((found) => found && Number.isFinite(found.value))) rows.push({ record: record, values: values.map((found) => found.value) });
    }
    plot.replaceChildren();
    if (chosen.length < 2 || !rows.length) {
      plot.appendChild(element("p", "Choose at least two results present in the same keys.", "hint"));
      return;
    }
    const width = Math.max(plot.clientWidth, 400), height = Math.max(plot.clientHeight, 380);
    const margin = { top: 40, bottom: 30, left: 60, right: 60 };
    const spacing = (width - margin.left - margin.right) / (chosen.length - 1);
    const ranges = chosen.map((_, axis) => {
      let low = Infinity, high = -Infinity;
      for (const row of rows) {
        low = Math.min(low, row.values[axis]);
        high = Math.max(high, row.values[axis]);
      }
      return low === high ? [low - 0.5, high + 0.5] : [low, high];
    });
    const xOf = (axis) => margin.left + axis * spacing;
    const yOf = (axis, value) => margin.top + (1 - (value - ranges[axis][0]) / (ranges[axis][1] - ranges[axis][0])) * (height - margin.top - margin.bottom);
    const valueOf = (axis, y) => ranges[axis][0] + (1 - (y - margin.top) / (height - margin.top - margin.bottom)) * (ranges[axis][1] - ranges[axis][0]);
    const root = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "parallel coordinates" });
    const colorAxis = chosen.length - 1;
    const lines = svg("g", { fill: "none", "stroke-width": 1.2 });
    const shown = new Set(state.shown);
    const ordered = rows.slice().sort((a, b) => shown.has(a.record) - shown.has(b.record));
    for (const row of ordered) {
      const inside = shown.has(row.record);
      const t = (row.values[colorAxis] - ranges[colorAxis][0]) / (ranges[colorAxis][1] - ranges[colorAxis][0]);
      const points = row.values.map((value, axis) => xOf(axis).toFixed(1) + "," + yOf(axis, value).toFixed(1)).join(" ");
      const line = svg("polyline", { points: points, stroke: inside ? "hsl(" + Math.round(260 - 200 * t) + ",70%,45%)" : "#ccc", "stroke-opacity": inside ? 0.7 : 0.4 });
      line.appendChild(svg("title", {}, row.record.key));
      lines.appendChild(line);
    }
    root.appendChild(lines);
    chosen.forEach((name, axis) => {
      const group = svg("g", { class: "axis", "data-axis": axis });
      const x = xOf(axis);
      group.appendChild(svg("line", { x1: x, x2: x, y1: margin.top, y2: height - margin.bottom, stroke: "#333" }));
      group.appendChild(svg("text", { x: x, y: margin.top - 18, "text-anchor": "middle", "font-weight": 600 }, name));
      for (const tick of niceTicks(ranges[axis][0], ranges[axis][1], 6)) {
        const y = yOf(axis, tick);
        group.appendChild(svg("line", { x1: x - 4, x2: x, y1: y, y2: y, stroke: "#333" }));
        group.appendChild(svg("text", { x: x - 7, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#444" }, formatNumber(tick)));
      }
      const brushed = state.brush.find((entry) => entry.name === name);
      if (brushed) {
        for (const range of brushed.ranges) {
          const top = yOf(axis, Math.min(range[1], ranges[axis][1])), bottom = yOf(axis, Math.max(range[0], ranges[axis][0]));
          group.appendChild(svg("rect", { x: x - 8, width: 16, y: top, height: Math.max(bottom - top, 1), fill: "rgba(9,105,218,0.25)", stroke: "#0969da", class: "brush" }));
        }
      }
      const handle = svg("rect", { x: x - 14, width: 28, y: margin.top - 4, height: height - margin.top - margin.bottom + 8, fill: "transparent", cursor: "crosshair", class: "brush-handle", "data-name": name });
      group.appendChild(handle);
      handle.addEventListener("pointerdown", (event) => startBrush(event, root, axis, name, valueOf, margin, height));
      root.appendChild(group);
    });
    plot.appendChild(root);
  }

  function startBrush(event, root, axis, name, valueOf, margin, height) {
    event.preventDefault();
    const box = root.getBoundingClientRect();
    const clamp = (y) => Math.max(margin.top, Math.min(height - margin.bottom, y));
    const startY = clamp(event.clientY - box.top);
    let endY = startY;
    const x = Number(event.target.getAttribute("x")) + 6;
    const preview = svg("rect", { x: x, width: 16, y: startY, height: 1, fill: "rgba(9,105,218,0.25)", stroke: "#0969da" });
    root.appendChild(preview);
    const move = (moved) => {
      endY = clamp(moved.clientY - box.top);
      preview.setAttribute("y", Math.min(startY, endY));
      preview.setAttribute("height", Math.max(Math.abs(endY - startY), 1));
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      state.brush = state.brush.filter((entry) => entry.name !== name);
      if (Math.abs(endY - startY) >= 3) {
        const a = valueOf(axis, startY), b = valueOf(axis, endY);
        state.brush.push({ name: name, ranges: [[Math.min(a, b), Math.max(a, b)]] });
      }
      recomputeBrush();
      renderParallel();
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  function recomputeBrush() {
    state.shown = state.filtered.filter(insideBrush);
    $("row-count").textContent = state.shown.length === state.filtered.length
      ? state.filtered.length + " results"
      : state.shown.length + " of " + state.filtered.length + " results (brushed)";
    $("clear-brush").hidden = state.brush.length === 0;
  }

  function groupName(record, by, k, resultName) {
    if (by === "result") {
      if (!record.results.has(resultName)) return resultName + " missing";
      return resultName + " = " + formatValue(record.results.get(resultName));
    }
    const segments = record.key.split("/");
    const kept = k >= 0 ? segments.slice(0, k) : segments.slice(0, Math.max(0, segments.length + k));
    if (!kept.length) throw new Error("K = " + k + " leaves no key segment of " + JSON.stringify(record.key) + " to name its group");
    return kept.join("/");
  }

  // A group's bar: a measurement's mean and sem, or a parameter's value.
  function barOf(found) {
    return "value" in found ? { mean: found.value, sem: 0, n: null } : found;
  }

  function renderGroups() {
    const by = $("groups-by").value;
    $("groups-k-label").hidden = by !== "segments";
    $("groups-result-label").hidden = by !== "result";
    const k = Math.trunc(Number($("groups-k").value)) || -1;
    const resultName = $("groups-result").value;
    const error = $("groups-error");
    error.textContent = "";
    const members = new Map();
    try {
      for (const record of state.shown) {
        const name = groupName(record, by, k, resultName);
        if (!members.has(name)) members.set(name, []);
        members.get(name).push(record.results);
      }
    } catch (problem) {
      error.textContent = problem.message;
      members.clear();
    }
    const names = Array.from(members.keys()).sort(collator.compare);
    const combined = aggregateGroups(members);
    const metrics = Array.from(new Set(names.flatMap((name) => Array.from(combined.get(name).keys())))).sort(collator.compare);
    const headRow = element("tr");
    headRow.append(element("th", "group"), element("th", "keys"));
    const parameters = new Set(metrics.filter((metric) => names.every((name) => !combined.get(name).has(metric) || "value" in combined.get(name).get(metric))));
    for (const metric of metrics) headRow.appendChild(element("th", parameters.has(metric) ? metric : metric + " (mean ± sem, n)"));
    $("groups-table").tHead.replaceChildren(headRow);
    $("groups-table").tBodies[0].replaceChildren(...names.map((name) => {
      const row = element("tr");
      row.append(element("td", name), element("td", members.get(name).length, "number"));
      for (const metric of metrics) {
        const found = combined.get(name).get(metric);
        if (!found) row.appendChild(element("td", "", "missing"));
        else if ("value" in found) row.appendChild(element("td", formatValue(found.value), isNumber(found.value) ? "number" : undefined));
        else row.appendChild(element("td", formatStatistic(found.mean, found.sem) + " (n=" + found.n + ")", "number"));
      }
      return row;
    }));
    const plotted = $("groups-metric").value;
    const bars = names.filter((name) => combined.get(name).has(plotted) && isNumber(barOf(combined.get(name).get(plotted)).mean));
    if (!bars.length) return emptyPlot("groups-plot", "no groups with " + plotted);
    Plotly.react("groups-plot", [{
      type: "bar",
      x: bars.map(plotlyText),
      y: bars.map((name) => asNumber(barOf(combined.get(name).get(plotted)).mean)),
      error_y: { type: "data", array: bars.map((name) => { const sem = barOf(combined.get(name).get(plotted)).sem; return Number.isNaN(sem) ? 0 : sem; }), visible: true },
      hovertext: bars.map((name) => { const found = barOf(combined.get(name).get(plotted)); return plotlyText(name) + "<br>" + formatStatistic(found.mean, found.n === null ? null : found.sem) + (found.n === null ? "" : " (n=" + found.n + ")"); }),
      hoverinfo: "text",
      marker: { color: "#0969da" },
    }], baseLayout({ xaxis: { type: "category", automargin: true }, yaxis: { title: { text: plotlyText(plotted) + " (mean ± sem)" } } }), PLOT_CONFIG);
  }

  // -- downloads ------------------------------------------------------------------------

  function download(name, type, text) {
    const link = element("a");
    link.href = URL.createObjectURL(new Blob([text], { type: type }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function csvField(value) {
    if (value === undefined) return "";
    let text = isNumber(value) ? formatNumberExact(value) : formatValue(value);
    // A spreadsheet would run a text cell starting like a formula.
    if (!isNumber(value) && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function formatNumberExact(value) {
    if (typeof value === "boolean") return value ? "true" : "false";
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }

  function downloadCsv() {
    const rows = sortedRows();
    const names = allNames(rows);
    const lines = [["key", "modified", ...names].map(csvField).join(",")];
    for (const record of rows) {
      const modified = record.modified === null ? "" : new Date(record.modified * 1000).toISOString();
      lines.push([record.key, modified, ...names.map((name) => record.results.get(name))].map(csvField).join(","));
    }
    download("results.csv", "text/csv", lines.join("\r\n") + "\r\n");
  }

  function jsonValue(value) {
    if (typeof value === "number" && !Number.isFinite(value)) return formatNumberExact(value);
    if (value instanceof Nested) {
      try {
        return JSON.parse(value.text);
      } catch (problem) {
        return value.text; // NaN inside a list: Python's JSON, not JavaScript's
      }
    }
    return value;
  }

  function downloadJson() {
    const rows = sortedRows().map((record) => {
      // fromEntries defines own properties: a result named __proto__ stays a result.
      const results = Object.fromEntries(Array.from(record.results, ([name, value]) => [name, jsonValue(value)]));
      return { key: record.key, modified: record.modified === null ? null : new Date(record.modified * 1000).toISOString(), results: results };
    });
    download("results.json", "application/json", JSON.stringify(rows, null, 1) + "\n");
  }

  // -- wiring ---------------------------------------------------------------------------

  function selectView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("#tabs button")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
    render();
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

  let plotlyRequested = false;

  function loadPlotly() {
    if (plotlyRequested || typeof window.Plotly !== "undefined") return;
    plotlyRequested = true;
    const plotly = element("script");
    plotly.src = "/static/plotly.min.js";
    plotly.addEventListener("load", () => {
      // Plotly draws beside what a container holds: take the waiting notes away first.
      for (const hint of document.querySelectorAll(".plot > p.plotly-loading")) hint.remove();
      if (state.view !== "table") render();
    });
    plotly.addEventListener("error", () => {
      for (const hint of document.querySelectorAll(".plot > p.plotly-loading")) {
        hint.textContent = "the plotting library could not be loaded; the table and downloads still work";
      }
    });
    document.body.appendChild(plotly);
  }

  // Exposed for the tests and the benchmark: read-only views of the page's state.
  window.resulttracker = {
    parseWhere: parseWhere,
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
})();
