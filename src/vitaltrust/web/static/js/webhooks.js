// /admin/webhooks: counts per source over a time range, unmatched accounts with "link to
// user", and the deliveries list (filters in the URL, keyset paging).
import { api } from "./api.js";
import { $, el, fmtAge, fmtNumber, fmtTime, initShell, plural, rangeStart, reportError } from "./ui.js";

const params = new URLSearchParams(location.search);
const COLUMNS = ["received", "processed", "unmatched", "ignored", "failed", "queued", "duplicates", "rejected", "rate_limited"];
let next = null;

async function loadSummary() {
  const range = params.has("range") ? params.get("range") : "24h";
  $("#f-range").value = range;
  const since = rangeStart(range);
  const data = await api(`/api/admin/webhook-events/summary${since ? `?since=${encodeURIComponent(since)}` : ""}`);
  const cells = (r) => COLUMNS.map((k) => el("td", { class: "vt-num", "data-key": k, text: fmtNumber(r[k]) }));
  $("#delivery-sources tbody").replaceChildren(
    ...data.sources.map((s) => el("tr", { "data-source": s.source }, el("td", { text: s.source }), ...cells(s))),
    el("tr", { class: "vt-total", "data-source": "all" }, el("th", { text: "All sources" }), ...cells(data.totals)));
  const sources = $("#f-source");
  if (sources.options.length === 1) {
    sources.append(...data.sources.map((s) => el("option", { value: s.source, text: s.source })));
    if (params.get("source")) sources.value = params.get("source");
  }
}

async function link(row, input, button) {
  const out = $("#link-result");
  button.disabled = true;
  try {
    const r = await api("/api/admin/webhook-events/link-account", { method: "POST", body: {
      source: row.source, external_user_id: row.external_user_id, email: input.value.trim() } });
    out.textContent = `Linked ${row.external_user_id} to user ${r.user_id}; ${plural(r.reprocessed, "waiting delivery")} sent for processing again.`.replace("deliverys", "deliveries");
    out.dataset.ok = "true";
    await Promise.all([loadUnmatched(), loadSummary(), loadEvents(false)]);
  } catch (err) {
    out.textContent = `Failed: ${err.message}`;
    out.dataset.ok = "false";
  } finally {
    button.disabled = false;
  }
}

async function loadUnmatched() {
  const rows = (await api("/api/admin/webhook-events/unmatched-accounts")).rows;
  $("#unmatched-empty").hidden = rows.length > 0;
  $("#unmatched tbody").replaceChildren(...rows.map((r) => {
    const input = el("input", { type: "email", placeholder: "client@example.com", "aria-label": `E-mail of the user for ${r.external_user_id}`, required: true });
    const button = el("button", { type: "submit", class: "vt-button", text: r.linked_user_id ? "Reprocess" : "Link to user" });
    const form = el("form", { class: "vt-inline" }, input, button);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); link(r, input, button); });
    return el("tr", { "data-account": r.external_user_id },
      el("td", { text: r.source }), el("td", {}, el("code", { text: r.external_user_id })),
      el("td", { class: "vt-num", text: fmtNumber(r.waiting_events) }),
      el("td", { text: fmtAge(r.last_received_at) }), el("td", {}, form));
  }));
}

async function loadEvents(append) {
  const q = new URLSearchParams({ limit: "50" });
  for (const k of ["source", "status"]) if (params.get(k)) q.set(k, params.get(k));
  if (append && next) q.set("after", String(next));
  const page = await api(`/api/admin/webhook-events?${q}`);
  const body = $("#events tbody");
  if (!append) body.replaceChildren();
  body.append(...page.rows.map((e) => el("tr", { "data-status": e.status, "data-event": String(e.id) },
    el("td", {}, el("a", { href: `/admin/webhooks/${e.id}`, text: `#${e.id}` })),
    el("td", { text: e.source }),
    el("td", { text: e.status === "received" ? "queued" : e.status }),
    el("td", { text: fmtTime(e.received_at) }),
    el("td", { class: "vt-num", text: fmtNumber(e.sample_count) }),
    el("td", { class: "vt-num", text: fmtNumber(e.rejections) }),
    el("td", { class: "vt-detail", text: e.error || "" }))));
  next = page.next_after;
  $("#btn-more").hidden = next === null;
  $("#events-empty").hidden = body.children.length > 0;
}

initShell();
for (const k of ["status"]) if (params.get(k)) $(`#f-${k}`).value = params.get(k);
$("#f-range").addEventListener("change", (ev) => { params.set("range", ev.target.value); history.replaceState(null, "", `?${params}`); loadSummary().catch((e) => reportError("summary", e)); });
$("#event-filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  for (const [k, v] of new FormData(ev.target)) { if (v) params.set(k, String(v)); else params.delete(k); }
  location.search = params.toString();
});
$("#btn-more").addEventListener("click", () => loadEvents(true).catch((e) => reportError("events", e)));
Promise.all([loadSummary(), loadUnmatched(), loadEvents(false)]).then(
  () => reportError("deliveries", null), (e) => reportError("deliveries", e));
