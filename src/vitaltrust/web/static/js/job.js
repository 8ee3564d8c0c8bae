// /admin/jobs/{id}: the job, its payload, every failed attempt with its traceback.
import { api } from "./api.js";
import { $, confirmed, el, fmtNumber, fmtTime, initShell, reportError } from "./ui.js";

const id = $("#vt-main").dataset.jobId;

function fact(label, value, key) {
  return [el("dt", { text: label }), el("dd", { "data-key": key, text: value ?? "–" })];
}

function render(j) {
  const badge = $("#job-status");
  badge.textContent = j.status;
  badge.dataset.status = j.status;
  $("#job-summary").textContent = `${j.type}, attempt ${j.attempts} of ${j.max_attempts}, enqueued ${fmtTime(j.created_at)}`;
  $("#job-error").textContent = j.error || "No error recorded.";
  const ev = j.related_event;
  $("#job-facts").replaceChildren(
    ...fact("Type", j.type, "type"), ...fact("Status", j.status, "status"),
    ...fact("Priority", String(j.priority), "priority"),
    ...fact("Dedupe key", j.dedupe_key || "none", "dedupe_key"),
    ...fact("Last worker", j.worker, "worker"),
    ...fact("Enqueued", fmtTime(j.created_at), "created_at"),
    ...fact("Runs at", fmtTime(j.run_at), "run_at"),
    ...fact("Started", fmtTime(j.started_at), "started_at"),
    ...fact(j.status === "failed" ? "Failed" : "Completed", fmtTime(j.failed_at || j.completed_at), "finished_at"),
    ...fact("Last run took", j.last_duration_ms == null ? null : `${fmtNumber(j.last_duration_ms)} ms`, "duration"),
    el("dt", { text: "Webhook event" }),
    el("dd", { "data-key": "related_event" }, ev
      ? el("a", { href: `/admin/webhooks/${ev.webhook_event_id}`,
                  text: `${ev.source} #${ev.webhook_event_id} (${ev.status})` })
      : "none"));
  const history = j.attempt_history || [];
  $("#attempts-empty").hidden = history.length > 0;
  $("#job-attempts").replaceChildren(...history.map((a) => el("li", { "data-outcome": a.outcome },
    el("p", { text: `Attempt ${a.attempt}: ${a.outcome === "failed" ? "failed for good" : "failed, retried"} at ${fmtTime(a.finished_at)} on ${a.worker || "unknown worker"}, after ${a.duration_ms == null ? "–" : fmtNumber(a.duration_ms) + " ms"}` }),
    el("pre", { class: "vt-pre", text: a.error || "" }),
    a.traceback ? el("details", {}, el("summary", { text: "Traceback" }), el("pre", { class: "vt-pre vt-traceback", text: a.traceback })) : null)));
  $("#job-payload").textContent = JSON.stringify(j.payload, null, 2);
  $("#btn-retry").hidden = j.status !== "failed";
  $("#btn-discard").hidden = !["failed", "pending"].includes(j.status);
}

async function load() {
  render(await api(`/api/admin/jobs/${id}`));
}

async function act(question, path, describe, after) {
  if (!(await confirmed(question))) return;
  const out = $("#action-result");
  try {
    out.textContent = describe(await api(path, { method: "POST", body: { ids: [Number(id)] } }));
    out.dataset.ok = "true";
    await after();
  } catch (err) {
    out.textContent = `Failed: ${err.message}`;
    out.dataset.ok = "false";
  }
}

initShell();
$("#btn-retry").addEventListener("click", () => act("Put this job back in the queue?", "/api/admin/jobs/retry",
  (r) => (r.retried ? "The job is back in the queue." : "The job was not failed any more."), load));
$("#btn-discard").addEventListener("click", () => act("Delete this job?", "/api/admin/jobs/discard",
  (r) => (r.discarded ? "The job was discarded." : "The job could not be discarded (it is running)."),
  async () => { $("#btn-retry").hidden = true; $("#btn-discard").hidden = true; }));
load().then(() => reportError("job", null), (e) => {
  reportError("job", e);
  $("#job-summary").textContent = e.status === 404 ? "There is no such job (discarded or removed by retention)." : "";
});
