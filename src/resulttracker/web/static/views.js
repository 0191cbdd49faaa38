// Which view is shown, drawing it, and loading plotly.js when a plot is first wanted.

import { $, element } from "./dom.js";
import { renderGroups } from "./groups.js";
import { renderParallel } from "./parallel.js";
import { refreshSelects } from "./plots.js";
import { renderScatter } from "./scatter.js";
import { state } from "./state.js";
import { renderTable } from "./table.js";
import { renderTrials } from "./trials.js";

export function render() {
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

export function selectView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll("#tabs button")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
  render();
}

let plotlyRequested = false;

export function loadPlotly() {
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
