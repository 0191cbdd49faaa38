// What the plotted views share: plotly's settings and the metric selects.

import { $, element } from "./dom.js";
import { allNames, numericNames, state } from "./state.js";
import { plotlyText } from "./values.js";

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

export function refreshSelects() {
  const numeric = numericNames(state.filtered);
  fillSelect($("trials-metric"), numeric, 0);
  fillSelect($("scatter-x"), numeric, 0);
  fillSelect($("scatter-y"), numeric, 1);
  fillSelect($("scatter-color"), allNames(state.filtered), 2, [["", "(none)"]]);
  fillSelect($("groups-result"), allNames(state.filtered), 0);
  fillSelect($("groups-metric"), numeric, 0);
}

export const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

export function baseLayout(extra) {
  return Object.assign({ margin: { t: 30, r: 20, b: 60, l: 70 }, hovermode: "closest", font: { size: 12 } }, extra);
}

export function emptyPlot(target, message) {
  Plotly.react(target, [], baseLayout({
    xaxis: { visible: false }, yaxis: { visible: false },
    annotations: [{ text: plotlyText(message), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
  }), PLOT_CONFIG);
}
