// /admin/alerts: rule states, destinations (add, test, remove, delivery log), subscriptions.
import { api } from "./api.js";
import { $, el, every, reportError } from "./ui.js";

const fmt = (v) => (v === null || v === undefined ? "–" : String(v));

function fill(table, rows) {
  const body = $(`#${table} tbody`);
  body.replaceChildren(...rows);
}

async function showLog(name) {
  const data = await api(`/api/admin/alerts/destinations/${encodeURIComponent(name)}/deliveries`);
  $("#log-name").textContent = "· " + name;
  fill("delivery-log", data.deliveries.map((d) => el("tr", {},
    el("td", { text: fmt(d.delivery_id) }), el("td", { text: d.event_type }),
    el("td", { text: d.status }), el("td", { text: fmt(d.attempts) }),
    el("td", { text: fmt(d.last_status_code) }),
    el("td", { text: d.last_duration_ms === null ? "–" : d.last_duration_ms.toFixed(0) }),
    el("td", { text: fmt(d.next_attempt_at) }), el("td", { text: fmt(d.last_error) }))));
}

async function action(fn) {
  try { await fn(); reportError("alerts-action", null); } catch (err) { reportError("alerts-action", err); }
  await refresh();
}

async function refresh() {
  const [alerts, dests, subs] = await Promise.all([
    api("/api/admin/alerts"), api("/api/admin/alerts/destinations"),
    api("/api/admin/events/subscriptions")]);
  fill("alert-states", alerts.states.map((s) => el("tr", { "data-status": s.status },
    el("td", { text: s.rule }), el("td", { text: s.status }), el("td", { text: s.severity }),
    el("td", { text: fmt(s.since) }), el("td", { text: s.message }))));
  fill("alert-history", alerts.history.map((h) => el("tr", {},
    el("td", { text: h.at }), el("td", { text: h.rule }), el("td", { text: h.event }),
    el("td", { text: h.message }))));
  fill("destinations", dests.destinations.map((d) => el("tr", {},
    el("td", { text: d.name }), el("td", { text: d.kind }), el("td", { text: d.target_hint }),
    el("td", { text: fmt(d.pending) }), el("td", { text: fmt(d.last_delivered_at) }),
    el("td", {},
      el("button", { type: "button", text: "Send test", on: { click: () => action(() =>
        api(`/api/admin/alerts/destinations/${encodeURIComponent(d.name)}/test`, { method: "POST" })) } }),
      el("button", { type: "button", text: "Log", on: { click: () => showLog(d.name) } }),
      el("button", { type: "button", text: "Remove", on: { click: () => {
        if (confirm(`Remove destination ${d.name}?`)) action(() =>
          api(`/api/admin/alerts/destinations/${encodeURIComponent(d.name)}`, { method: "DELETE" }));
      } } })))));
  fill("subscriptions", subs.subscriptions.map((s) => el("tr", {},
    el("td", { text: s.name }), el("td", { text: s.url_hint }),
    el("td", { text: s.event_types.join(", ") }), el("td", { text: fmt(s.pending) }),
    el("td", {}, el("button", { type: "button", text: "Remove", on: { click: () => {
      if (confirm(`Remove subscription ${s.name}?`)) action(() =>
        api(`/api/admin/events/subscriptions/${encodeURIComponent(s.name)}`, { method: "DELETE" }));
    } } })))));
}

$("#add-destination").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  action(async () => {
    const made = await api("/api/admin/alerts/destinations", { method: "POST", body: {
      name: form.get("name"), kind: form.get("kind"), target: form.get("target") } });
    $("#destination-result").textContent = made.secret
      ? `Added ${made.name}. Signing secret (shown once): ${made.secret}` : `Added ${made.name}.`;
    ev.target.reset();
  });
});

every(15000, "alerts", refresh);
