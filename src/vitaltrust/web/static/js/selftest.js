// "Run self-test" on the /admin dashboard (admins only): POST /api/admin/selftest and show
// the same table as `vitaltrust selftest` (check, result, duration, detail).

import { api } from "./api.js";

const main = document.querySelector("#vt-main");
const section = document.querySelector("#selftest");

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function show(report) {
  const table = section.querySelector("#selftest-results");
  const rows = report.results.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.check = r.check;
    tr.dataset.ok = String(r.ok);
    tr.append(cell(r.check), cell(r.ok ? "PASS" : "FAIL", "vt-result"),
      cell((r.duration_ms / 1000).toFixed(2) + " s", "vt-num"), cell(r.detail));
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = false;
  const failed = report.results.filter((r) => !r.ok).length;
  return failed ? `${failed} of ${report.results.length} checks failed.` : "All checks passed.";
}

if (main && section && main.dataset.role === "admin") {
  section.hidden = false;
  const button = section.querySelector("#btn-selftest");
  const status = section.querySelector("#selftest-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Running the checks in a sandbox…";
    delete status.dataset.ok;
    try {
      const report = await api("/api/admin/selftest", { method: "POST", body: {} });
      status.textContent = show(report);
      status.dataset.ok = String(report.ok);
    } catch (err) {
      status.textContent = err.message;
      status.dataset.ok = "false";
    } finally {
      button.disabled = false;
    }
  });
}
