// /admin: overview from GET /api/admin/monitoring every 30 s; charts and tables from the
// stats endpoints every 60 s; retry / recalculate buttons with a confirmation.
import { api, ApiError } from "./api.js";
import { $, confirmed, el, every, fmtDuration, fmtNumber, fmtPercent, fmtTime, initShell, reportError, stamp } from "./ui.js";
import { bars, empty, lines, stackedBars } from "./charts.js";

const OVERVIEW_MS = 30_000;
const STATS_MS = 60_000;
const role = $("#vt-main").dataset.role;
export const LEVEL_COLORS = { excellent: "#137a3f", good: "#4f8f1d", fair: "#b7791f",
                              poor: "#c0392b", insufficient: "#6b7280" };

const rowsOf = (data) => (Array.isArray(data) ? data : (data && (data.rows || data.items || data.days)) || []);
const num = (v) => (v === null || v === undefined ? 0 : Number(v));

function stats(target, pairs) {
  target.replaceChildren(...pairs.flatMap(([key, label, value]) => [
    el("dt", { text: label }), el("dd", { "data-key": key, text: value })]));
}

// Verdicts and findings come from the server's one health function (monitoring/health.py).
function renderFindings(list, findings) {
  list.replaceChildren(...findings.map((f) => el("li", {
    "data-ok": String(f.status === "ok"), "data-status": f.status, "data-check": f.key, text: f.message })));
}

function renderHealth(health) {
  const pipeline = health.pipeline;
  const findings = health.findings || [];
  if (pipeline) {
    const status = $("#health-status");
    status.textContent = pipeline.status;
    status.dataset.status = pipeline.status;
    $("#health-summary").textContent = pipeline.status === "healthy" ? pipeline.summary
      : `${pipeline.status}: ${pipeline.summary}`;
    renderFindings($("#health-checks"), findings.filter((f) => f.area === "pipeline"));
  }
  const quality = health.data_quality || { status: "unknown" };
  const qstatus = $("#quality-status");
  qstatus.textContent = quality.status;
  qstatus.dataset.status = quality.status;
  renderFindings($("#quality-checks"), findings.filter((f) => f.area === "data_quality"));
}

function renderOverview(d) {
  const q = d.job_queue || {};
  const c = d.confidence || {};
  const w = d.webhooks || {};
  const workers = d.workers || {};
  renderHealth(d.health || {});
  stats($("#queue-stats"), [
    ["pending", "Pending", fmtNumber(q.pending)],
    ["processing", "Processing", fmtNumber(q.processing)],
    ["failed", "Failed (can be retried)", fmtNumber(q.failed)],
    ["completed_24h", "Completed (24 h)", fmtNumber(q.completed_24h)],
    ["failed_rate_24h", "Failure rate (24 h)", fmtPercent(q.failed_rate_24h)],
    ["oldest_pending", "Oldest pending", q.oldest_pending_age_seconds == null ? "none"
      : fmtDuration(q.oldest_pending_age_seconds)],
  ]);
  // the failed count opens the failed-jobs list (then one click on a job shows its error)
  const failedCell = $("#queue-stats dd[data-key=failed]");
  failedCell.replaceChildren(el("a", { href: "/admin/jobs?status=failed", id: "link-failed-jobs",
                                       text: fmtNumber(q.failed) }));
  $("#confidence-average").textContent = c.average == null ? "–" : fmtNumber(c.average);
  $("#confidence-note").textContent = c.user_metrics
    ? `${fmtNumber(c.user_metrics)} scores for ${c.scope}; ${fmtPercent(c.excellent_share)} excellent`
    : `No confidence scores yet for ${c.scope || "anyone"}.`;
  stats($("#webhook-stats"), [
    ["received", "Received", fmtNumber(w.received_24h)],
    ["processed", "Processed", fmtNumber(w.processed_24h)],
    ["failed", "Failed", fmtNumber(w.failed_24h)],
    ["rejected", "Rejected", fmtNumber(num(w.rejected_24h) + num(w.rate_limited_24h))],
    ["success_rate", "Success rate", fmtPercent(w.success_rate_24h)],
    ["avg_ms", "Avg processing", w.avg_processing_ms == null ? "–" : `${fmtNumber(w.avg_processing_ms)} ms`],
  ]);
  stats($("#worker-stats"), [
    ["alive", "Alive", fmtNumber(workers.alive)],
    ["leader", "Scheduler leader", workers.leader || "none"],
  ]);
  const dist = c.distribution || {};
  const container = $("#chart-distribution");
  if (!c.user_metrics) empty(container, "No confidence scores yet.");
  else container.replaceChildren(bars(Object.keys(LEVEL_COLORS).map((level) => (
    { label: level, value: num(dist[level]), color: LEVEL_COLORS[level] })), { label: "confidence distribution" }));
  renderActivity(d.recent_activity || []);
  const nothing = !num(q.pending) && !num(q.processing) && !num(q.failed) && !num(q.completed_24h)
    && !num(w.received_24h) && !num(c.user_metrics) && !(d.recent_activity || []).length;
  $("#empty-state").hidden = !nothing;
  for (const card of document.querySelectorAll(".vt-card")) card.dataset.state = "ready";
}

function renderActivity(events) {
  $("#activity-empty").hidden = events.length > 0;
  $("#activity tbody").replaceChildren(...events.map((e) => el("tr", { "data-status": e.status },
    el("td", { text: fmtTime(e.at) }),
    el("td", {}, el("a", { href: `/admin/jobs/${e.job_id}`, text: `#${e.job_id}` })),
    el("td", { text: e.job_type }),
    el("td", { text: e.event }),
    el("td", { class: "vt-num", text: e.attempts ? `${e.attempts}/${e.max_attempts}` : "–" }),
    el("td", { class: "vt-detail", text: e.error || (e.duration_ms != null ? `${fmtNumber(e.duration_ms)} ms` : "") })),
  ));
}

async function loadOverview() {
  renderOverview(await api("/api/admin/monitoring"));
  stamp("#overview-updated");
}

function byDate(rows, days) {
  const out = new Map();
  for (let i = days - 1; i >= 0; i -= 1) {
    out.set(new Date(Date.now() - i * 86_400_000).toISOString().slice(0, 10), []);
  }
  for (const r of rows) {
    const key = String(r.date).slice(0, 10);
    if (out.has(key)) out.get(key).push(r);
  }
  return out;
}

// Charts a trainer may not see are explained in place rather than as a failure.
async function chart(selector, path, draw) {
  try {
    draw($(selector), rowsOf(await api(path)));
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) { empty($(selector), "Not available to your account."); return; }
    throw err;
  }
}

function drawJobs(container, rows) {
  const days = [...byDate(rows, 7)].map(([date, list]) => ({
    label: date.slice(5),
    parts: [{ name: "completed", value: list.reduce((s, r) => s + num(r.completed), 0), color: "#137a3f" },
            { name: "failed", value: list.reduce((s, r) => s + num(r.failed), 0), color: "#c0392b" }],
  }));
  if (!days.some((d) => d.parts.some((p) => p.value))) { empty(container, "No jobs finished in the last 7 days."); return; }
  container.replaceChildren(stackedBars(days, { label: "jobs per day" }));
}

function drawQuality(container, rows) {
  const points = [];
  for (const [date, list] of byDate(rows, 30)) {
    const n = list.reduce((s, r) => s + num(r.user_metrics), 0);
    if (!n) continue;
    const total = list.reduce((s, r) => s + num(r.avg_confidence) * num(r.user_metrics), 0);
    points.push({ date, value: Math.round((total / n) * 10) / 10 });
  }
  if (!points.length) { empty(container, "No data-quality history yet."); return; }
  container.replaceChildren(lines([{ name: "average confidence", color: "#2456c7", points }], {
    label: "average confidence per day",
    bands: [{ value: 85, color: LEVEL_COLORS.excellent }, { value: 50, color: LEVEL_COLORS.poor }],
  }));
}

function drawSources(rows) {
  const bySource = new Map();
  for (const r of rows) {
    const s = bySource.get(r.source) || { received: 0, processed: 0, failed: 0, rejected: 0, unmatched: 0, ms: 0 };
    s.received += num(r.received); s.processed += num(r.processed); s.failed += num(r.failed);
    s.unmatched += num(r.unmatched); s.rejected += num(r.rejected) + num(r.rate_limited);
    s.ms += num(r.avg_processing_ms) * (num(r.processed) + num(r.unmatched) + num(r.failed));
    bySource.set(r.source, s);
  }
  $("#sources-empty").hidden = bySource.size > 0;
  $("#sources tbody").replaceChildren(...[...bySource].map(([name, s]) => {
    const finished = s.processed + s.unmatched + s.failed;
    return el("tr", {},
      el("td", { text: name }), el("td", { class: "vt-num", text: fmtNumber(s.received) }),
      el("td", { class: "vt-num", text: fmtNumber(s.processed) }),
      el("td", { class: "vt-num", text: fmtNumber(s.failed) }),
      el("td", { class: "vt-num", text: fmtNumber(s.rejected) }),
      el("td", { class: "vt-num", text: finished ? fmtPercent((100 * s.processed) / finished) : "–" }),
      el("td", { class: "vt-num", text: finished ? fmtNumber(s.ms / finished) : "–" }));
  }));
}

async function loadStats() {
  if (role !== "admin") {  // trainers: their clients' data quality, no system internals
    await chart("#chart-quality", "/api/admin/quality-trends", drawQuality);
    stamp("#stats-updated", "Statistics updated");
    return;
  }
  await Promise.all([
    chart("#chart-quality", "/api/admin/quality-trends", drawQuality),
    chart("#chart-jobs", "/api/admin/job-stats", drawJobs),
    (async () => {
      try { drawSources(rowsOf(await api("/api/admin/webhook-stats"))); } catch (err) {
        if (!(err instanceof ApiError && err.status === 403)) throw err;
        $("#sources-empty").hidden = false;
      }
    })(),
  ]);
  stamp("#stats-updated", "Statistics updated");
}

// The action endpoints answer with counts; show the first one in words.
function countOf(result) {
  if (typeof result === "number") return result;
  for (const key of ["retried", "enqueued", "count", "jobs"]) if (result && typeof result[key] === "number") return result[key];
  return null;
}

function action(button, question, path, describe) {
  button.addEventListener("click", async () => {
    if (!(await confirmed(question))) return;
    const out = $("#action-result");
    button.disabled = true;
    out.textContent = "Working…";
    delete out.dataset.ok;
    try {
      const result = await api(path, { method: "POST", body: {} });
      out.textContent = describe(countOf(result), result);
      out.dataset.ok = "true";
      await loadOverview();
    } catch (err) {
      out.textContent = `Failed: ${err.message}`;
      out.dataset.ok = "false";
    } finally {
      button.disabled = false;
    }
  });
}

// Throughput (deliveries processed / failed per bucket) and latency over 1 h ... 30 d.
let range = "24h";
const BUCKET_LABEL = { "1h": (d) => d.toISOString().slice(11, 16), "24h": (d) => d.toISOString().slice(11, 13) + "h",
                       "7d": (d) => d.toISOString().slice(5, 13).replace("T", " ") + "h", "30d": (d) => d.toISOString().slice(5, 10) };
// the rollup's histogram ends at 60 s: a quantile in its last bucket means "a minute or more"
const ms = (v) => (v == null ? "–" : v >= 60_000 ? "≥ 60 s" : v >= 1000 ? `${fmtNumber(v / 1000)} s` : `${fmtNumber(v)} ms`);
const LATENCIES = [["job_run", "Job run time"], ["webhook_request", "Webhook request"],
                   ["webhook_to_confidence", "Webhook → confidence"]];

async function loadThroughput() {
  if (role !== "admin") return;
  const data = await api(`/api/admin/throughput?range=${range}`);
  const b = data.buckets;
  const sum = (k) => b.reduce((s, x) => s + num(x[k]), 0);
  const lat = data.latency;
  $("#throughput-summary").textContent = `${fmtNumber(sum("received"))} deliveries received, `
    + `${fmtNumber(sum("processed"))} processed, ${fmtNumber(sum("failed_deliveries"))} failed; `
    + `${fmtNumber(sum("jobs_completed"))} jobs completed, ${fmtNumber(sum("jobs_failed"))} failed. `
    + `Job run time p50 ${ms(lat.job_run.p50_ms)}, p95 ${ms(lat.job_run.p95_ms)}; `
    + `webhook request p50 ${ms(lat.webhook_request.p50_ms)}, p95 ${ms(lat.webhook_request.p95_ms)}; `
    + `webhook → confidence p50 ${ms(lat.webhook_to_confidence.p50_ms)}, p95 ${ms(lat.webhook_to_confidence.p95_ms)}.`;
  $("#throughput-latency tbody").replaceChildren(...LATENCIES.map(([key, name]) => el("tr", { "data-key": key },
    el("th", { scope: "row", text: name }),
    el("td", { class: "vt-num", "data-q": "p50", text: ms(lat[key].p50_ms) }),
    el("td", { class: "vt-num", "data-q": "p95", text: ms(lat[key].p95_ms) }))));
  const container = $("#chart-throughput");
  if (!b.some((x) => num(x.processed) || num(x.failed_deliveries))) {
    empty(container, "No delivery was processed in this range.");
    return;
  }
  container.replaceChildren(stackedBars(b.map((x) => ({
    label: BUCKET_LABEL[range](new Date(x.at)),
    parts: [{ name: "processed", value: num(x.processed), color: "#137a3f" },
            { name: "failed", value: num(x.failed_deliveries), color: "#c0392b" }],
  })), { label: `deliveries per ${data.bucket_seconds >= 86400 ? "day" : data.bucket_seconds >= 3600 ? "hour(s)" : "minute"}` }));
}

initShell();
for (const button of document.querySelectorAll("[data-range]")) {
  button.addEventListener("click", () => {
    range = button.dataset.range;
    for (const b of document.querySelectorAll("[data-range]")) b.setAttribute("aria-pressed", String(b === button));
    loadThroughput().catch((e) => reportError("throughput", e));
  });
}
$("#actions").hidden = false;
if (role !== "admin") for (const b of document.querySelectorAll("[data-admin-only]")) b.hidden = true;
action($("#btn-retry"), "Put every failed job back in the queue?", "/api/admin/jobs/retry-failed",
  (n) => (n === 0 ? "There were no failed jobs to retry." : `Retried ${n} failed job${n === 1 ? "" : "s"}.`));
action($("#btn-recalc"), role === "admin" ? "Recalculate the confidence of every user and metric?"
  : "Recalculate the confidence of all your clients?", "/api/admin/confidence/recalculate",
  (n, r) => (n === null ? "Recalculation queued." : `Queued ${n} recalculation${n === 1 ? "" : "s"}`
    + (r.already_pending ? ` (${r.already_pending} already waiting).` : ".")));
every(OVERVIEW_MS, "overview", loadOverview);
every(STATS_MS, "stats", loadStats);
every(STATS_MS, "throughput", loadThroughput);
