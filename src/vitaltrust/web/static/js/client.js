// /clients/{id}: every metric with level, value and sparkline; sources and devices with the
// last delivery; ingestion problems in words (GET /api/users/{id}/metrics and /ingestion).
import { api } from "./api.js";
import { $, el, every, fmtAge, fmtNumber, fmtValue, initShell, levelBadge } from "./ui.js";
import { sparkline } from "./charts.js";

const userId = $("#vt-main").dataset.userId;

function renderMetrics(data) {
  const metrics = data.metrics || [];
  $("#metrics-empty").hidden = metrics.length > 0;
  $("#metrics").replaceChildren(...metrics.map((m) => el("a", {
    class: "vt-metric-card", href: `/clients/${userId}/metrics/${m.metric}`, "data-metric": m.metric,
    "data-level": m.level || "none" },
    el("div", { class: "vt-metric-name", text: m.display_name || m.metric }),
    el("div", {}, levelBadge(m.level), " ", el("span", { class: "vt-cell-score", text: fmtNumber(m.score) })),
    el("div", { class: "vt-value", text: fmtValue(m.latest_value, m.unit) }),
    el("div", { class: "vt-age", text: fmtAge(m.last_sample_at) }),
    sparkline(m.sparkline || [], { label: `${m.display_name || m.metric}, last 30 days` }))));
}

function renderIngestion(data) {
  const problems = data.problems || [];
  $("#client-summary").textContent = data.summary;
  $("#problems-panel").dataset.ok = String(problems.length === 0);
  $("#problems").replaceChildren(...(problems.length ? problems.map((p) => el("li", { "data-kind": p.kind, text: p.text }))
    : [el("li", { "data-kind": "none", text: "Every delivery for this client was processed." })]));
  $("#sources-empty").hidden = data.sources.length > 0;
  $("#sources tbody").replaceChildren(...data.sources.map((s) => el("tr", { "data-source": s.source },
    el("td", { text: `${s.source} (${s.kind})` }),
    el("td", { text: s.accounts.join(", ") || "–" }),
    el("td", { text: [...s.device_types, ...s.device_models].join(", ") || "–" }),
    el("td", { text: fmtAge(s.last_received_at) }),
    el("td", { class: "vt-num", text: fmtNumber(s.samples_30d) }))));
}

async function load() {
  const [metrics, ingestion] = await Promise.all([
    api(`/api/users/${userId}/metrics?sparkline=30`), api(`/api/users/${userId}/ingestion`)]);
  const list = Array.isArray(metrics.metrics) ? metrics.metrics : Object.values(metrics.metrics || {});
  renderMetrics({ metrics: list });
  renderIngestion(ingestion);
}

initShell();
every(60_000, "client", load);
