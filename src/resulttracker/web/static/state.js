// The page's state and what is derived from it: the records passing the filter, the
// brush, the columns, the sort.

import { $ } from "./dom.js";
import { groupResults, metricOf, splitName } from "./statistics.js";
import { asNumber, collator, formatValue, isNumber, kindOf } from "./values.js";
import { conditionMatches, inPrefix } from "./where.js";

export const PAGE_SIZE = 100;

export const state = {
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
export function cellOf(record, column) {
  const results = record.results;
  if (column.kind === "plain" || results.has(column.name)) return { value: results.get(column.name), sem: null };
  const sem = results.get(column.name + "/sem");
  return { value: results.get(column.name + "/mean"), sem: sem === undefined ? null : sem };
}

export function numericNames(records) {
  const names = new Set();
  for (const record of records) {
    for (const [name, value] of record.results) {
      const [metric, statistic] = splitName(name, record.results);
      if ((statistic === "value" || statistic === "mean") && isNumber(value)) names.add(metric);
    }
  }
  return Array.from(names).sort(collator.compare);
}

export function allNames(records) {
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

export function recompute() {
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

export function recomputeBrush() {
  state.shown = state.filtered.filter(insideBrush);
  $("row-count").textContent = state.shown.length === state.filtered.length
    ? state.filtered.length + " results"
    : state.shown.length + " of " + state.filtered.length + " results (brushed)";
  $("clear-brush").hidden = state.brush.length === 0;
}

export function sortedRows() {
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
