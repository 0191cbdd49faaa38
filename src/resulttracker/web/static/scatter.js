// Scatter of two metrics, coloured by a third result.

import { $ } from "./dom.js";
import { baseLayout, emptyPlot, PLOT_CONFIG } from "./plots.js";
import { state } from "./state.js";
import { metricOf } from "./statistics.js";
import { asNumber, collator, formatNumber, formatValue, isNumber, plotlyText } from "./values.js";

const MAX_CATEGORIES = 20;

export function renderScatter() {
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
