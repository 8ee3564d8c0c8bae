// Small DOM and formatting helpers shared by the pages.
import { api } from "./api.js";

export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// One banner per failing source, so a recovered API clears only its own message.
const failures = new Map();
export function reportError(key, error) {
  if (error) failures.set(key, error.message || String(error));
  else failures.delete(key);
  const banner = $("#vt-banner");
  if (!banner) return;
  banner.hidden = failures.size === 0;
  banner.textContent = failures.size ? "Cannot load data: " + [...failures.values()].join(" · ") : "";
}

// Run `task` now and every `ms`; errors go to the banner, success clears it.
export function every(ms, key, task) {
  const run = async () => {
    try { await task(); reportError(key, null); } catch (err) { reportError(key, err); }
  };
  run();
  return setInterval(run, ms);
}

export function levelBadge(level) {
  const label = level === "insufficient" ? "insufficient data" : (level || "no data");
  return el("span", { class: "vt-badge", "data-level": level || "none", text: label });
}

export function fmtNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  const n = Number(value);
  return n.toLocaleString("en-GB", { maximumFractionDigits: Number.isInteger(n) ? 0 : digits });
}

export function fmtPercent(value, { fraction = false } = {}) {
  if (value === null || value === undefined) return "–";
  const n = fraction ? Number(value) * 100 : Number(value);
  return `${n.toLocaleString("en-GB", { maximumFractionDigits: 1 })} %`;
}

// Values in their canonical unit, shown the way a coach reads them.
export function fmtValue(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "s") {
    const minutes = Math.round(Number(value) / 60);
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  }
  if (unit === "steps") return `${fmtNumber(Math.round(value), 0)} steps`;
  return `${fmtNumber(value)} ${unit || ""}`.trim();
}

export function fmtAge(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 90) return "just now";
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Number(seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function fmtTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString("en-GB", { day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit" });
}

export function stamp(selector, prefix = "Updated") {
  const node = $(selector);
  if (node) node.textContent = `${prefix} ${new Date().toLocaleTimeString("en-GB")}`;
}

// The header's sign-out button, on every page.
export function initShell() {
  const button = $("#vt-logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST" }); } catch { /* signed out anyway */ }
    location.assign("/login?signed_out=1");
  });
}

// The page's <dialog id="confirm">: resolves true when the user confirms.
export function confirmed(text) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

// "1h" | "24h" | "7d" | "30d" -> ISO start of that range ending now (null: any time).
export const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
export function rangeStart(range, now = Date.now()) {
  return RANGES[range] ? new Date(now - RANGES[range] * 1000).toISOString() : null;
}

export function plural(n, word) {
  return `${fmtNumber(n)} ${word}${n === 1 ? "" : "s"}`;
}
