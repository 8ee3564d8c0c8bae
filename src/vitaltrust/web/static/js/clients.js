// /clients: one row per client from GET /api/clients, filtered by metric and level on the
// server, refreshed every 60 s. The filter lives in the URL so a view can be shared.
import { api } from "./api.js";
import { $, el, every, fmtAge, fmtNumber, fmtValue, initShell, levelBadge, reportError, stamp } from "./ui.js";
import { sparkline } from "./charts.js";

const REFRESH_MS = 60_000;
const role = $("#vt-main").dataset.role;
const metricSelect = $("#filter-metric");
const levelSelect = $("#filter-level");
const sortSelect = $("#sort");
let latest = null;

const SORTS = {
  worst: null, // the API's order
  best: (a, b) => b.worst_rank - a.worst_rank || (b.worst_score ?? -1) - (a.worst_score ?? -1),
  name: (a, b) => label(a).localeCompare(label(b)),
  stale: (a, b) => (Date.parse(a.last_sample_at) || 0) - (Date.parse(b.last_sample_at) || 0),
};

const label = (c) => c.display_name || c.email;

function readUrl() {
  const params = new URLSearchParams(location.search);
  levelSelect.value = params.get("level") || "";
  sortSelect.value = SORTS[params.get("sort")] !== undefined ? params.get("sort") : "worst";
  return params.get("metric") || "";
}

function writeUrl() {
  const params = new URLSearchParams();
  if (metricSelect.value) params.set("metric", metricSelect.value);
  if (levelSelect.value) params.set("level", levelSelect.value);
  if (sortSelect.value !== "worst") params.set("sort", sortSelect.value);
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
}

function fillMetricOptions(metrics, wanted) {
  const current = wanted ?? metricSelect.value;
  metricSelect.replaceChildren(el("option", { value: "", text: "any metric" }),
    ...metrics.map((m) => el("option", { value: m.metric, text: m.display_name })));
  metricSelect.value = metrics.some((m) => m.metric === current) ? current : "";
}

function cell(client, metric) {
  const data = client.metrics[metric.metric];
  const td = el("td", { class: "vt-cell", "data-label": metric.display_name, "data-metric": metric.metric });
  if (!data) { td.append(el("span", { class: "vt-nodata", text: "no data" })); return td; }
  td.dataset.level = data.level;
  const link = el("a", { href: `/clients/${client.user_id}/metrics/${metric.metric}`,
                         title: `${metric.display_name}: open the details` },
    el("div", {}, levelBadge(data.level), " ", el("span", { class: "vt-cell-score", text: fmtNumber(data.score) })),
    el("div", { class: "vt-value", text: fmtValue(data.latest_value, data.unit) }),
    el("div", { class: "vt-age", text: fmtAge(data.last_sample_at) }),
    sparkline(data.sparkline, { label: `${metric.display_name}, last 30 days` }));
  td.append(link);
  return td;
}

function render() {
  const data = latest;
  const metrics = metricSelect.value ? data.metrics.filter((m) => m.metric === metricSelect.value) : data.metrics;
  const rows = [...data.clients];
  if (SORTS[sortSelect.value]) rows.sort(SORTS[sortSelect.value]);
  $("#clients thead tr").replaceChildren(el("th", { text: "Client" }), el("th", { text: "Last sample" }),
    ...metrics.map((m) => el("th", { text: m.display_name })));
  $("#clients tbody").replaceChildren(...rows.map((c) => el("tr", { "data-user-id": c.user_id },
    el("td", { "data-label": "Client", class: "vt-client" }, el("strong", { text: label(c) }),
       c.display_name ? el("div", { class: "vt-note", text: c.email }) : null),
    el("td", { "data-label": "Last sample", text: fmtAge(c.last_sample_at) }),
    ...metrics.map((m) => cell(c, m)))));
  const filtered = Boolean(metricSelect.value || levelSelect.value);
  $("#clients-count").textContent = filtered
    ? `${rows.length} of ${data.total_clients} clients match` : `${rows.length} clients`;
  $("#clients").hidden = rows.length === 0;
  $("#clients-empty").hidden = rows.length > 0;
  if (!rows.length) {
    $("#clients-empty-title").textContent = data.total_clients ? "No client matches" : "No clients yet";
    $("#clients-empty-text").textContent = data.total_clients
      ? "No client has data at this level for this metric. Change the filter to see more."
      : role === "client" ? "No data has arrived for you yet."
        : role === "admin" ? "No client accounts exist yet (vitaltrust users create --role client)."
          : "No client is assigned to you. An administrator assigns clients with "
            + "vitaltrust users assign --trainer EMAIL --client EMAIL.";
  }
}

async function load(wantedMetric) {
  const params = new URLSearchParams();
  const metric = wantedMetric ?? metricSelect.value;
  if (metric) params.set("metric", metric);
  if (levelSelect.value) params.set("level", levelSelect.value);
  latest = await api("/api/clients" + (params.toString() ? `?${params}` : ""));
  fillMetricOptions(latest.metrics, metric);
  $("#clients-loading").hidden = true;
  render();
  stamp("#clients-updated");
}

async function refilter() {
  writeUrl();
  $("#clients-loading").hidden = false;
  try { await load(); reportError("clients", null); } catch (err) { reportError("clients", err); }
  $("#clients-loading").hidden = true;
}

initShell();
const initialMetric = readUrl();
metricSelect.addEventListener("change", refilter);
levelSelect.addEventListener("change", refilter);
sortSelect.addEventListener("change", () => { writeUrl(); if (latest) render(); });
let first = true;
every(REFRESH_MS, "clients", async () => {
  try {
    await load(first ? initialMetric : undefined);
  } catch (err) {
    $("#clients-loading").textContent = "Could not load the clients.";
    throw err;
  } finally {
    first = false;
  }
});
