// Statistics as resulttracker.stats has them (group and aggregate, format_statistic),
// for the groups view.

import { asNumber, isNumber, Nested } from "./values.js";

export function splitName(name, results) {
  const slash = name.lastIndexOf("/");
  if (slash > 0) {
    const head = name.slice(0, slash), tail = name.slice(slash + 1);
    if (tail && tail !== "value" && results.has(head + "/mean")) return [head, tail];
  }
  return [name, "value"];
}

// metric -> (statistic -> value), both Maps
export function groupResults(results) {
  const grouped = new Map();
  for (const [name, value] of results) {
    const [metric, statistic] = splitName(name, results);
    if (!grouped.has(metric)) grouped.set(metric, new Map());
    grouped.get(metric).set(statistic, value);
  }
  return grouped;
}

export function metricOf(results, name) {
  if (results.has(name)) {
    const value = results.get(name);
    return isNumber(value) ? { value: asNumber(value), sem: null } : null;
  }
  const mean = results.get(name + "/mean");
  if (!isNumber(mean)) return null;
  const sem = results.get(name + "/sem");
  return { value: asNumber(mean), sem: isNumber(sem) ? asNumber(sem) : null };
}

function summarize(samples) {
  const kept = samples.filter((value) => !Number.isNaN(value));
  const n = kept.length;
  const mean = n ? kept.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(kept.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1)) : NaN;
  return { mean: mean, sem: n > 1 ? std / Math.sqrt(n) : NaN, n: n };
}

// Result names that identify a replica (resulttracker.stats.IDENTIFIERS): never averaged.
export const IDENTIFIERS = new Set(["local_rank", "rank", "replica", "seed", "worker"]);

// replicas: Maps of results -> metric -> [each replica's statistics (a Map)]
function perMetricOf(replicas) {
  const perMetric = new Map();
  for (const results of replicas) {
    for (const [metric, statistics] of groupResults(results)) {
      if (!perMetric.has(metric)) perMetric.set(metric, []);
      perMetric.get(metric).push(statistics);
    }
  }
  return perMetric;
}

function sameValue(value, other) {
  if (isNumber(value) && isNumber(other) && typeof value !== "boolean" && typeof other !== "boolean") {
    return value === other || (Number.isNaN(value) && Number.isNaN(other));
  }
  return typeof value === typeof other && value === other && !(value instanceof Nested);
}

function samePlainValue(reports) {
  if (reports.some((report) => report.size !== 1 || !report.has("value"))) return false;
  const first = reports[0].get("value");
  return reports.every((report) => sameValue(report.get("value"), first));
}

// groups: Map of group name -> replicas (Maps of results), as resulttracker.stats.aggregate:
// a name that every replica of every group holds with one value per group is a parameter,
// kept as it is ({value}); any other numeric name is a measurement ({mean, sem, n}) in
// every group; identifiers and text that vary are left out.
export function aggregateGroups(groups) {
  const perGroup = new Map();
  for (const [name, replicas] of groups) perGroup.set(name, perMetricOf(replicas));
  const varying = new Set();
  for (const [name, perMetric] of perGroup) {
    for (const [metric, reports] of perMetric) {
      if (reports.length !== groups.get(name).length || !samePlainValue(reports)) varying.add(metric);
    }
  }
  const combined = new Map();
  for (const [name, perMetric] of perGroup) combined.set(name, combine(perMetric, varying));
  return combined;
}

function combine(perMetric, varying) {
  const combined = new Map();
  for (const [metric, reports] of perMetric) {
    if (!varying.has(metric)) {
      combined.set(metric, { value: reports[0].get("value") });
      continue;
    }
    const used = reports.flatMap((report) => ["value", "mean", "sem"].filter((field) => report.has(field)).map((field) => report.get(field)));
    if (IDENTIFIERS.has(metric) || used.some((value) => !isNumber(value))) continue;
    if (reports.every((report) => !report.has("value") && report.has("sem"))) {
      const kept = reports.filter((report) => report.has("mean") && !Number.isNaN(asNumber(report.get("mean"))));
      const n = kept.length;
      combined.set(metric, {
        mean: n ? kept.reduce((a, report) => a + asNumber(report.get("mean")), 0) / n : NaN,
        sem: n ? Math.hypot(...kept.map((report) => asNumber(report.get("sem")))) / n : NaN,
        n: n,
      });
    } else {
      combined.set(metric, summarize(reports.map((report) => asNumber(report.has("value") ? report.get("value") : report.get("mean")))));
    }
  }
  return combined;
}

// Python's format(value, ".<precision>g").
function formatG(value, precision) {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mantissa, exponentText] = value.toExponential(precision - 1).split("e");
  const exponent = Number(exponentText);
  const strip = (text) => (text.includes(".") ? text.replace(/\.?0+$/, "") : text);
  if (exponent < -4 || exponent >= precision) {
    return strip(mantissa) + "e" + (exponent < 0 ? "-" : "+") + String(Math.abs(exponent)).padStart(2, "0");
  }
  return strip(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

// mean ± sem rounded to what the uncertainty justifies (resulttracker.stats.format_statistic).
export function formatStatistic(mean, sem) {
  mean = asNumber(mean);
  if (sem === null || sem === undefined || !Number.isFinite(sem) || !Number.isFinite(mean)) {
    const shown = formatG(mean, 6);
    return sem === null || sem === undefined ? shown : shown + " ± " + formatG(sem, 2);
  }
  sem = Math.abs(asNumber(sem));
  const exponentOf = (value) => Math.floor(Math.log10(Math.abs(value)));
  let digits;
  if (sem <= Math.abs(mean) * 1e-12) {
    digits = mean ? 3 - exponentOf(mean) : 3;
    sem = 0;
  } else {
    digits = 1 - exponentOf(sem);
  }
  if (!(digits >= -6 && digits <= 8) || Math.abs(mean) >= 1e15) return formatG(mean, 6) + " ± " + formatG(sem, 2);
  if (digits < 0) {
    const factor = 10 ** -digits;
    mean = Math.round(mean / factor) * factor;
    sem = Math.round(sem / factor) * factor;
  }
  const decimals = Math.max(digits, 0);
  return mean.toFixed(decimals) + " ± " + sem.toFixed(decimals);
}
