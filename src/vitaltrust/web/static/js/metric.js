// /clients/{id}/metrics/{metric}: samples chart (1, 7, 30 or 90 days), the score's components and
// reasons, and the source priority editor. A saved priority enqueues a recalculation; the
// page polls the confidence until the new score is there.
import { api } from "./api.js";
import { $, el, every, fmtNumber, fmtTime, fmtValue, initShell, reportError, stamp } from "./ui.js";
import { empty, samplesChart } from "./charts.js";

const REFRESH_MS = 60_000;
const POLL_MS = 1_000;
const POLL_LIMIT_MS = 60_000;
const main = $("#vt-main");
const userId = main.dataset.userId;
const metric = main.dataset.metric;
const unit = main.dataset.unit;
const base = `/api/users/${userId}/metrics/${metric}`;
let days = 30;
let current = null;   // the priority the server has
let edited = null;    // the order on screen
let devicesInData = new Set();

function renderScore(conf) {
  const badge = $("#score-badge");
  badge.dataset.level = conf.level;
  badge.textContent = conf.level === "insufficient" ? "insufficient data" : conf.level;
  $("#score-value").textContent = fmtNumber(conf.score);
  $("#score-meta").textContent = `latest ${fmtValue(conf.latest_value, unit)} · ${conf.sample_count} samples`
    + ` in 30 days · computed ${fmtTime(conf.computed_at)}`;
  const explanation = conf.explanation || {};
  $("#components tbody").replaceChildren(...(explanation.components || []).map((c) => el("tr",
    { "data-code": c.code },
    el("td", { text: c.name }),
    el("td", { class: "vt-num", text: c.score === null ? "not judged" : fmtNumber(c.score) }),
    el("td", { class: "vt-num", text: `${Math.round(c.weight * 100)} %` }),
    el("td", { class: "vt-num", text: c.deduction ? `−${fmtNumber(c.deduction)}` : "0" }))));
  const reasons = explanation.reasons || [];
  $("#reasons").replaceChildren(...(reasons.length ? reasons.map((r) => el("li", { "data-code": r.code, text: r.message }))
    : [el("li", { text: "Nothing lowers this score." })]));
}

function renderChart(data) {
  const container = $("#chart-samples");
  const conflicts = (data.conflicts || []).map((c) => ({ ...c.loser,
    note: `${c.winner.source} (${c.winner.device_type}) won with ${c.winner.value}` }));
  const flagged = (data.flagged || []).filter((f) => f.flags && f.flags.length)
    .map((f) => ({ ...f, note: f.flags.join(", ").toLowerCase().replaceAll("_", " ") }));
  // a flagged sample (a unit slip, an implausible value) is never part of the resolved line
  const flaggedAt = new Set(flagged.map((f) => `${f.measured_at}|${f.source}`));
  const resolved = (data.series || []).filter((p) => !(p.flags && p.flags.length)
    && !flaggedAt.has(`${p.measured_at}|${p.source}`));
  devicesInData = new Set([...resolved, ...conflicts].map((p) => p.device_type));
  $("#chart-empty").hidden = resolved.length + conflicts.length + flagged.length > 0;
  if ($("#chart-empty").hidden === false) { container.replaceChildren(); return; }
  const to = Date.now();
  container.replaceChildren(samplesChart({ resolved, conflicts, flagged, unit,
                                           from: to - days * 86_400_000, to }));
  container.dataset.resolved = resolved.length;
  container.dataset.conflicts = conflicts.length;
  container.dataset.flagged = flagged.length;
}

function move(index, delta) {
  const target = index + delta;
  if (target < 0 || target >= edited.length) return;
  [edited[index], edited[target]] = [edited[target], edited[index]];
  renderPriority();
}

function renderPriority() {
  $("#priority").replaceChildren(...edited.map((device, i) => el("li", { "data-device": device },
    el("span", {}, device.replace("_", " "), devicesInData.has(device) ? el("span", { class: "vt-note", text: " · in this data" }) : null),
    el("span", {},
      el("button", { type: "button", "aria-label": `move ${device} up`, disabled: i === 0, on: { click: () => move(i, -1) }, text: "↑" }),
      el("button", { type: "button", "aria-label": `move ${device} down`, disabled: i === edited.length - 1, on: { click: () => move(i, 1) }, text: "↓" })))));
  $("#priority-save").disabled = edited.join() === current.priority.join();
  $("#priority-reset").disabled = !current.overridden;
}

async function loadConfidence() {
  const conf = await api(`${base}/confidence`);
  renderScore(conf);
  return conf;
}

async function loadSamples() {
  renderChart(await api(`${base}/samples?include=conflicts,flags&days=${days}`));
}

async function loadPriority() {
  current = await api(`${base}/priority`);
  if (!edited || $("#priority-save").disabled) edited = [...current.priority];
  renderPriority();
}

async function refresh() {
  await Promise.all([loadConfidence(), loadSamples()]);
  if (current) renderPriority();
  stamp("#metric-updated");
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// The recalculation runs in the queue: wait until the cache shows a newer computation.
async function waitForNewScore(before) {
  const deadline = Date.now() + POLL_LIMIT_MS;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const conf = await api(`${base}/confidence`);
    if (conf.cached && conf.computed_at !== before.computed_at) return conf;
  }
  return null;
}

async function savePriority(order) {
  const out = $("#priority-result");
  $("#priority-save").disabled = true;
  $("#priority-reset").disabled = true;
  delete out.dataset.ok;
  try {
    const before = await api(`${base}/confidence`);
    current = await api(`${base}/priority`, { method: "PUT", body: { priority: order } });
    edited = [...current.priority];
    renderPriority();
    out.textContent = "Saved. Recalculating the score…";
    const after = await waitForNewScore(before);
    if (!after) {
      out.textContent = "Saved. The recalculation has not finished yet; the score will update on the next refresh.";
      return;
    }
    renderScore(after);
    await loadSamples();
    out.textContent = `New score: ${fmtNumber(after.score)} (${after.level}); it was ${fmtNumber(before.score)} (${before.level}).`;
    out.dataset.ok = "true";
  } catch (err) {
    out.textContent = `Could not save: ${err.message}`;
    out.dataset.ok = "false";
    renderPriority();
  }
}

initShell();
for (const button of document.querySelectorAll("[data-days]")) {
  button.addEventListener("click", async () => {
    days = Number(button.dataset.days);
    for (const b of document.querySelectorAll("[data-days]")) b.setAttribute("aria-pressed", String(b === button));
    try { await loadSamples(); reportError("samples", null); } catch (err) { reportError("samples", err); }
  });
}
$("#priority-save").addEventListener("click", () => savePriority(edited));
$("#priority-reset").addEventListener("click", () => savePriority(null));
every(REFRESH_MS, "metric", refresh);
loadPriority().catch((err) => { reportError("priority", err); empty($("#priority"), "The priority cannot be loaded."); });
