// /admin/webhooks/{id}: one delivery with its body, what its adapter reads, rejections.
import { api } from "./api.js";
import { $, confirmed, el, fmtNumber, fmtTime, initShell, reportError } from "./ui.js";

const id = $("#vt-main").dataset.eventId;

function render(e) {
  const badge = $("#event-status");
  badge.textContent = e.status === "received" ? "queued" : e.status;
  badge.dataset.status = e.status;
  $("#event-summary").textContent = `${e.source} (${e.kind}), provider event ${e.event_id}, received ${fmtTime(e.received_at)}`;
  $("#event-facts").replaceChildren(
    el("dt", { text: "Samples stored" }), el("dd", { "data-key": "sample_count", text: fmtNumber(e.sample_count) }),
    el("dt", { text: "Processed" }), el("dd", { text: fmtTime(e.processed_at) }),
    el("dt", { text: "Processing took" }), el("dd", { text: e.processing_ms == null ? "–" : `${fmtNumber(e.processing_ms)} ms` }),
    el("dt", { text: "Event type" }), el("dd", { text: e.event_type || "–" }),
    el("dt", { text: "Body" }), el("dd", { text: `${fmtNumber(e.body_bytes)} bytes` }));
  $("#event-error").textContent = e.error ? `Error: ${e.error}` : "";
  $("#event-accounts").replaceChildren(...e.accounts.map((a) => el("li", { "data-account": a.external_user_id },
    el("code", { text: a.external_user_id }), a.user_id
      ? el("span", {}, " → ", el("a", { href: `/clients/${a.user_id}`, text: a.user_name }))
      : el("span", { text: " → not linked to any user (see Unmatched accounts)" }))));
  const rejections = e.rejections || [];
  $("#rejections-empty").hidden = rejections.length > 0;
  $("#event-rejections").replaceChildren(...rejections.map((r) => el("li", { text: r.reason })));
  $("#event-samples tbody").replaceChildren(...e.parsed.samples.map((s) => el("tr", {},
    el("td", { text: s.external_user_id }), el("td", { text: s.metric }),
    el("td", { class: "vt-num", text: fmtNumber(s.value, 2) }), el("td", { text: s.unit }),
    el("td", { text: fmtTime(s.measured_at) }), el("td", { text: s.device_type || "" }))));
  $("#event-body").textContent = e.body;
  $("#btn-reprocess").hidden = e.status === "received";
}

async function load() { render(await api(`/api/admin/webhook-events/${id}`)); }

initShell();
$("#btn-reprocess").addEventListener("click", async () => {
  if (!(await confirmed("Process this delivery again? Its previous outcome leaves the counts."))) return;
  const out = $("#action-result");
  try {
    await api(`/api/admin/webhook-events/${id}/reprocess`, { method: "POST", body: {} });
    out.textContent = "Queued for processing again.";
    out.dataset.ok = "true";
    await load();
  } catch (err) {
    out.textContent = `Failed: ${err.message}`;
    out.dataset.ok = "false";
  }
});
load().then(() => reportError("event", null), (e) => {
  reportError("event", e);
  $("#event-summary").textContent = e.status === 404 ? "There is no such delivery." : "";
});
