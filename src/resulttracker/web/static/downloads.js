// Downloads of the shown rows as CSV and JSON.

import { element } from "./dom.js";
import { allNames, sortedRows } from "./state.js";
import { formatNumberExact, formatValue, isNumber, Nested } from "./values.js";

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

export function downloadCsv() {
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

export function downloadJson() {
  const rows = sortedRows().map((record) => {
    // fromEntries defines own properties: a result named __proto__ stays a result.
    const results = Object.fromEntries(Array.from(record.results, ([name, value]) => [name, jsonValue(value)]));
    return { key: record.key, modified: record.modified === null ? null : new Date(record.modified * 1000).toISOString(), results: results };
  });
  download("results.json", "application/json", JSON.stringify(rows, null, 1) + "\n");
}
