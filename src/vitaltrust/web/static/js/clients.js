// /clients: one row per client from GET /api/clients: filtered by metric and level, searched
// by name or e-mail, sorted and paged (offset pages of PAGE_SIZE) on the server, refreshed
// every 60 s. The filters live in the URL so a view can be shared. The client column stays
// visible while the table scrolls sideways inside its box (CSS position: sticky).
import { api } from "./api.js";
import { $, el, every, fmtAge, fmtNumber, fmtValue, initShell, levelBadge, reportError, stamp } from "./ui.js";
import { sparkline } from "./charts.js";

const REFRESH_MS = 60_000;
const SEARCH_DELAY_MS = 300;
const PAGE_SIZE = 25;
const SORTS = ["worst", "best", "name", "stale"];
const role = $("#vt-main").dataset.role;
const metricSelect = $("#filter-metric");
const levelSelect = $("#filter-level");
const sortSelect = $("#sort");
const search = $("#filter-q");
let latest = null;
let page = 1;

const label = (c) => c.display_name || c.email;

function readUrl() {
  const params = new URLSearchParams(location.search);
  levelSelect.value = params.get("level") || "";
  sortSelect.value = SORTS.includes(params.get("sort")) ? params.get("sort") : "worst";
  search.value = params.get("q") || "";
  page = Math.max(1, Number.parseInt(params.get("page"), 10) || 1);
  return params.get("metric") || "";
}

function writeUrl() {
  const params = new URLSearchParams();
  if (metricSelect.value) params.set("metric", metricSelect.value);
  if (levelSelect.value) params.set("level", levelSelect.value);
  if (sortSelect.value !== "worst") params.set("sort", sortSelect.value);
  if (search.value.trim()) params.set("q", search.value.trim());
  if (page > 1) params.set("page", String(page));
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

function renderPager(data) {
  const first = data.matched ? data.offset + 1 : 0;
  const last = data.offset + data.clients.length;
  $("#clients-pager").hidden = data.matched <= PAGE_SIZE;
  $("#page-info").textContent = `${first}–${last} of ${data.matched}`;
  $("#page-prev").disabled = data.offset === 0;
  $("#page-next").disabled = last >= data.matched;
}

function render() {
  const data = latest;
  const metrics = metricSelect.value ? data.metrics.filter((m) => m.metric === metricSelect.value) : data.metrics;
  const rows = data.clients;
  $("#clients thead tr").replaceChildren(el("th", { text: "Client", scope: "col" }),
    el("th", { text: "Last sample" }), ...metrics.map((m) => el("th", { text: m.display_name })));
  $("#clients tbody").replaceChildren(...rows.map((c) => el("tr", { "data-user-id": c.user_id },
    el("td", { "data-label": "Client", class: "vt-client" },
       el("a", { href: `/clients/${c.user_id}`, title: "the client's overview" }, el("strong", { text: label(c) })),
       c.display_name ? el("div", { class: "vt-note", text: c.email }) : null),
    el("td", { "data-label": "Last sample", text: fmtAge(c.last_sample_at) }),
    ...metrics.map((m) => cell(c, m)))));
  const narrowed = Boolean(metricSelect.value || levelSelect.value || search.value.trim());
  $("#clients-count").textContent = narrowed
    ? `${data.matched} of ${data.total_clients} clients match` : `${data.total_clients} clients`;
  renderPager(data);
  $("#clients").hidden = rows.length === 0;
  $("#clients-empty").hidden = rows.length > 0;
  if (!rows.length) {
    $("#clients-empty-title").textContent = data.total_clients ? "No client matches" : "No clients yet";
    $("#clients-empty-text").textContent = data.total_clients
      ? (search.value.trim() ? `No client's name or e-mail contains "${search.value.trim()}".`
        : "No client has data at this level for this metric.") + " Change the filter to see more."
      : role === "client" ? "No data has arrived for you yet."
        : role === "admin" ? "No client accounts exist yet (vitaltrust users create --role client)."
          : "No client is assigned to you. An administrator assigns clients with "
            + "vitaltrust users assign --trainer EMAIL --client EMAIL.";
  }
}

async function load(wantedMetric) {
  const params = new URLSearchParams({ sort: sortSelect.value, limit: String(PAGE_SIZE),
                                       offset: String((page - 1) * PAGE_SIZE) });
  const metric = wantedMetric ?? metricSelect.value;
  if (metric) params.set("metric", metric);
  if (levelSelect.value) params.set("level", levelSelect.value);
  if (search.value.trim()) params.set("q", search.value.trim());
  latest = await api(`/api/clients?${params}`);
  if (latest.matched && !latest.clients.length && page > 1) {  // past the end (a shared link)
    page = Math.ceil(latest.matched / PAGE_SIZE);
    writeUrl();
    return load(wantedMetric);
  }
  fillMetricOptions(latest.metrics, metric);
  $("#clients-loading").hidden = true;
  render();
  stamp("#clients-updated");
  return latest;
}

async function refilter({ keepPage = false } = {}) {
  if (!keepPage) page = 1;
  writeUrl();
  $("#clients-loading").hidden = false;
  try { await load(); reportError("clients", null); } catch (err) { reportError("clients", err); }
  $("#clients-loading").hidden = true;
}

initShell();
const initialMetric = readUrl();
metricSelect.addEventListener("change", () => refilter());
levelSelect.addEventListener("change", () => refilter());
sortSelect.addEventListener("change", () => refilter());
let typing = null;
search.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => refilter(), SEARCH_DELAY_MS);
});
$("#filters").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(typing); refilter(); });
$("#page-prev").addEventListener("click", () => { page = Math.max(1, page - 1); refilter({ keepPage: true }); });
$("#page-next").addEventListener("click", () => { page += 1; refilter({ keepPage: true }); });
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
