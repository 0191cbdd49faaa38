// Parallel coordinates with brushing.

import { $, element, svg } from "./dom.js";
import { numericNames, recomputeBrush, state } from "./state.js";
import { metricOf } from "./statistics.js";
import { formatNumber } from "./values.js";

const parallelChoice = new Set();

function niceTicks(low, high, count) {
  if (!(high > low)) return [low];
  const step = Math.pow(10, Math.floor(Math.log10((high - low) / count)));
  const multiple = [1, 2, 5, 10].find((m) => (high - low) / (step * m) <= count) || 10;
  const size = step * multiple;
  const ticks = [];
  for (let tick = Math.ceil(low / size) * size; tick <= high + size * 1e-9; tick += size) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

export function renderParallel() {
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
