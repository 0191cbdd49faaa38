// The results table, its column chooser and a record's detail.

import { $, element } from "./dom.js";
import { cellOf, PAGE_SIZE, sortedRows, state } from "./state.js";
import { collator, formatNumber, formatTime, formatValue, isNumber } from "./values.js";

function cellText(cell) {
  if (cell.value === undefined) return "";
  if (cell.sem !== null && isNumber(cell.value) && isNumber(cell.sem)) {
    return formatNumber(cell.value) + " ± " + formatNumber(cell.sem);
  }
  return formatValue(cell.value);
}

export function renderTable() {
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

export function showDetail(key) {
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
