// /admin/jobs: filters in the URL (shareable), keyset paging ("Show more"), retry / discard
// of a selection, retry of every failed job of one type.
import { api } from "./api.js";
import { $, confirmed, el, fmtNumber, fmtTime, initShell, plural, rangeStart, reportError } from "./ui.js";

const PAGE = 50;
const params = new URLSearchParams(location.search);
let next = null;
const selected = new Set();

function filterFromUrl() {
  for (const key of ["status", "type", "range", "error"]) {
    const input = $(`#job-filters [name=${key}]`);
    if (params.get(key) && input) input.value = params.get(key);
  }
}

function query(after) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const key of ["status", "type", "error"]) if (params.get(key)) q.set(key, params.get(key));
  const since = rangeStart(params.get("range"));
  if (since) q.set("since", since);
  if (after) q.set("after", String(after));
  return `/api/admin/jobs?${q}`;
}

function updateButtons() {
  $("#btn-retry-selected").disabled = selected.size === 0;
  $("#btn-discard-selected").disabled = selected.size === 0;
  const type = params.get("type");
  $("#btn-retry-type").hidden = !type;
  if (type) $("#btn-retry-type").textContent = `Retry all failed ${type} jobs`;
}

function row(j) {
  const box = el("input", { type: "checkbox", "aria-label": `Select job ${j.id}`, value: String(j.id) });
  box.addEventListener("change", () => { if (box.checked) selected.add(j.id); else selected.delete(j.id); updateButtons(); });
  const when = j.failed_at || j.completed_at || j.started_at || j.created_at;
  return el("tr", { "data-status": j.status, "data-job": String(j.id) },
    el("td", {}, box),
    el("td", {}, el("a", { href: `/admin/jobs/${j.id}`, text: `#${j.id}` })),
    el("td", { text: j.type }),
    el("td", { text: j.status }),
    el("td", { class: "vt-num", text: `${j.attempts}/${j.max_attempts}` }),
    el("td", { text: fmtTime(when) }),
    el("td", { class: "vt-detail", text: j.error || "" }));
}

async function load(append) {
  const page = await api(query(append ? next : null));
  const body = $("#jobs tbody");
  if (!append) { body.replaceChildren(); selected.clear(); }
  body.append(...page.rows.map(row));
  next = page.next_after;
  $("#btn-more").hidden = next === null;
  $("#jobs-empty").hidden = body.children.length > 0;
  const c = page.counts || {};
  $("#jobs-counts").textContent = `${fmtNumber(c.pending)} pending · ${fmtNumber(c.processing)} processing · ${fmtNumber(c.failed)} failed`;
  const typeSelect = $("#f-type");
  if (typeSelect.options.length === 1) {
    typeSelect.append(...(page.types || []).map((t) => el("option", { value: t, text: t })));
    if (params.get("type")) typeSelect.value = params.get("type");
  }
  updateButtons();
}

async function act(question, path, body, describe) {
  if (!(await confirmed(question))) return;
  const out = $("#action-result");
  try {
    out.textContent = describe(await api(path, { method: "POST", body }));
    out.dataset.ok = "true";
    await load(false);
  } catch (err) {
    out.textContent = `Failed: ${err.message}`;
    out.dataset.ok = "false";
  }
}

initShell();
filterFromUrl();
$("#job-filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(ev.target)) if (v) q.set(k, String(v));
  location.search = q.toString();
});
$("#select-all").addEventListener("change", (ev) => {
  for (const box of document.querySelectorAll("#jobs tbody input[type=checkbox]")) {
    box.checked = ev.target.checked;
    box.dispatchEvent(new Event("change"));
  }
});
$("#btn-more").addEventListener("click", () => load(true).catch((e) => reportError("jobs", e)));
$("#btn-retry-selected").addEventListener("click", () => act(
  `Retry ${plural(selected.size, "selected job")}? Only failed ones go back in the queue.`,
  "/api/admin/jobs/retry", { ids: [...selected] }, (r) => `Retried ${plural(r.retried, "job")}.`));
$("#btn-discard-selected").addEventListener("click", () => act(
  `Discard ${plural(selected.size, "selected job")}? Failed and pending ones are deleted.`,
  "/api/admin/jobs/discard", { ids: [...selected] }, (r) => `Discarded ${plural(r.discarded, "job")}.`));
$("#btn-retry-type").addEventListener("click", () => act(
  `Put every failed ${params.get("type")} job back in the queue?`, "/api/admin/jobs/retry-failed",
  { job_type: params.get("type") }, (r) => `Retried ${plural(r.retried, "job")}.`));
load(false).then(() => reportError("jobs", null), (e) => reportError("jobs", e));
