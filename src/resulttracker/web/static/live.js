// Live mode: polling the server for new and changed records.

import { $, setStatus, showCorrupt } from "./dom.js";
import { recompute, state } from "./state.js";
import { decodeRecord } from "./values.js";
import { render } from "./views.js";

let pollTimer = null;

function recordsAddress() {
  const parameters = new URLSearchParams();
  if (state.cursor) parameters.append("since", state.cursor);
  if (state.prefix) parameters.append("prefix", state.prefix);
  for (const condition of state.conditions) parameters.append("where", condition.source);
  const text = parameters.toString();
  return "/api/records" + (text ? "?" + text : "");
}

export async function poll(scheduled) {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = null;
  try {
    const response = await fetch(recordsAddress(), { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await response.json();
    if (!response.ok) {
      state.cursor = null; // whatever went wrong, the next poll starts afresh
      $("filter-error").textContent = typeof body.error === "string" ? body.error : response.statusText;
      setStatus("error");
    } else {
      merge(body);
    }
  } catch (problem) {
    setStatus("cannot reach the server (" + problem.message + "); retrying");
  }
  pollTimer = setTimeout(() => poll(true), state.refresh * 1000);
  return scheduled;
}

function merge(body) {
  if (body.full) state.records = new Map();
  let changed = body.full;
  for (const raw of body.records) {
    state.records.set(raw.key, decodeRecord(raw));
    changed = true;
  }
  for (const key of body.removed) changed = state.records.delete(key) || changed;
  state.cursor = body.cursor;
  if (state.records.size !== body.count) {
    state.cursor = null; // out of step: the next poll loads everything again
  }
  showCorrupt(body.corrupt, body.corrupt_keys);
  setStatus("live · every " + state.refresh + " s · updated " + new Date().toLocaleTimeString());
  if (changed) {
    recompute();
    render();
  }
}
