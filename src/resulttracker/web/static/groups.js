// Groups of replicas: mean ± sem per group, as resulttracker.stats.aggregate.

import { $, element } from "./dom.js";
import { baseLayout, emptyPlot, PLOT_CONFIG } from "./plots.js";
import { state } from "./state.js";
import { aggregateGroups, formatStatistic } from "./statistics.js";
import { asNumber, collator, formatValue, isNumber, plotlyText } from "./values.js";

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

export function renderGroups() {
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
