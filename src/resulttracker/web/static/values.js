// Values as the page holds them (numbers, NaN and the infinities, text, null, nested
// lists and objects) and their formatting.

export const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "variant" });

export class Nested {
  constructor(text) {
    this.text = String(text);
    Object.freeze(this);
  }
}

const own = (object, name) => Object.prototype.hasOwnProperty.call(object, name);

function decodeValue(value) {
  if (value === null || typeof value !== "object") return value;
  if (own(value, "float")) {
    return value.float === "nan" ? NaN : value.float === "inf" ? Infinity : -Infinity;
  }
  return new Nested(own(value, "json") ? value.json : JSON.stringify(value));
}

// A plain object from JSON (whose own properties may be named __proto__) as a Map.
export function toResults(object) {
  return new Map(Object.entries(object).map(([name, value]) => [name, decodeValue(value)]));
}

export function decodeRecord(raw) {
  return { key: String(raw.key), results: toResults(raw.results), modified: raw.modified };
}

export function isNumber(value) {
  return typeof value === "number" || typeof value === "boolean";
}

// What a value can be compared as: 0 numbers, 1 strings, 2 anything else (null, nested).
export function kindOf(value) {
  return isNumber(value) ? 0 : typeof value === "string" ? 1 : 2;
}

export function asNumber(value) {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

export function formatNumber(value) {
  if (typeof value === "boolean") return String(value);
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e6)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function formatValue(value) {
  if (isNumber(value)) return formatNumber(value);
  if (value === null) return "null";
  if (value instanceof Nested) return value.text;
  return String(value);
}

export function formatNumberExact(value) {
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return String(value);
}

export function formatTime(seconds) {
  if (seconds === null || seconds === undefined) return "unknown";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Plotly reads a small HTML subset in every label; entities make any text literal.
export function plotlyText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
