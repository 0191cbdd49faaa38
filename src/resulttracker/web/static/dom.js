// Elements: building them (text only, never HTML) and the status line.

export const $ = (id) => document.getElementById(id);

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// Parallel coordinates are drawn as SVG here (plotly's parcoords needs WebGL, which
// headless and locked-down browsers often lack). Drag along an axis to brush it;
// click an axis without dragging to clear its brush.
const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const name of Object.keys(attributes || {})) node.setAttribute(name, String(attributes[name]));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

export function setStatus(text) {
  $("status").textContent = text;
}

// Keys left out because their documents could not be read: how many, and which.
export function showCorrupt(count, listed) {
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
