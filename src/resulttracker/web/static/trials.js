// Metric over trials, with the best-so-far line.

import { $ } from "./dom.js";
import { baseLayout, emptyPlot, PLOT_CONFIG } from "./plots.js";
import { state } from "./state.js";
import { metricOf } from "./statistics.js";
import { formatNumber, plotlyText } from "./values.js";

export function renderTrials() {
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
