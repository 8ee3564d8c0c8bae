// Inline SVG charts drawn by hand: sparkline, bars, stacked bars, lines, the drill-down.
// Every mark carries a <title> so a hover (or a screen reader) gives the exact number.

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

const title = (text) => {
  const t = svg("title");
  t.textContent = text;
  return t;
};

function frame(width, height, label) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
                      preserveAspectRatio: "xMidYMid meet" });
}

function extent(values, pad = 0.08) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) { lo -= 1; hi += 1; }
  const margin = (hi - lo) * pad;
  return [lo - margin, hi + margin];
}

const scale = (d0, d1, r0, r1) => (v) => r0 + ((v - d0) / (d1 - d0 || 1)) * (r1 - r0);

export function empty(container, text) {
  container.replaceChildren();
  const p = document.createElement("p");
  p.className = "vt-chart-empty";
  p.textContent = text;
  container.append(p);
}

export function sparkline(points, { width = 110, height = 26, color = "#2456c7", label = "trend" } = {}) {
  const root = frame(width, height, label);
  root.setAttribute("width", width);
  root.setAttribute("height", height);
  root.classList.add("vt-spark");
  // [[date, value], ...] as the API sends it, or [{date, value}]
  points = (points || []).map((p) => (Array.isArray(p) ? { date: p[0], value: p[1] } : p));
  if (!points.length) return root;
  const xs = points.map((p) => Date.parse(p.date));
  const [y0, y1] = extent(points.map((p) => p.value), 0.15);
  const x = scale(Math.min(...xs), Math.max(...xs), 3, width - 3);
  const y = scale(y0, y1, height - 3, 3);
  const coords = points.map((p, i) => [x(xs[i]), y(p.value)]);
  if (coords.length > 1) {
    root.append(svg("polyline", { points: coords.map((c) => c.join(",")).join(" "),
                                  fill: "none", stroke: color, "stroke-width": 1.5 }));
  }
  const [lx, ly] = coords[coords.length - 1];
  root.append(svg("circle", { cx: lx, cy: ly, r: 2.2, fill: color }));
  root.append(title(points.map((p) => `${p.date}: ${p.value}`).slice(-5).join("\n")));
  return root;
}

// items: [{label, value, color}]
export function bars(items, { width = 360, height = 180, label = "bar chart", unit = "" } = {}) {
  const root = frame(width, height, label);
  const max = Math.max(1, ...items.map((i) => i.value));
  const left = 8, bottom = height - 22, top = 16;
  const step = (width - left * 2) / Math.max(1, items.length);
  const y = scale(0, max, bottom, top);
  root.append(svg("line", { x1: left, x2: width - left, y1: bottom, y2: bottom, class: "vt-axis" }));
  items.forEach((item, i) => {
    const x = left + i * step + step * 0.15;
    const w = step * 0.7;
    root.append(svg("rect", { x, y: y(item.value), width: w, height: bottom - y(item.value),
                              fill: item.color, rx: 2 },
                    title(`${item.label}: ${item.value}${unit}`)));
    const value = svg("text", { x: x + w / 2, y: y(item.value) - 4, "text-anchor": "middle" });
    value.textContent = String(item.value);
    const name = svg("text", { x: x + w / 2, y: height - 6, "text-anchor": "middle" });
    name.textContent = item.label;
    root.append(value, name);
  });
  return root;
}

// days: [{label, parts: [{name, value, color}]}] stacked from the bottom.
export function stackedBars(days, { width = 360, height = 180, label = "stacked bars" } = {}) {
  const root = frame(width, height, label);
  const totals = days.map((d) => d.parts.reduce((s, p) => s + p.value, 0));
  const max = Math.max(1, ...totals);
  const left = 34, right = 6, bottom = height - 22, top = 10;
  const step = (width - left - right) / Math.max(1, days.length);
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));
  const y = scale(0, max, bottom, top);
  root.append(svg("line", { x1: left, x2: width - right, y1: bottom, y2: bottom, class: "vt-axis" }));
  const maxLabel = svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" });
  maxLabel.textContent = String(max);
  root.append(maxLabel);
  days.forEach((day, i) => {
    let base = bottom;
    const x = left + i * step + step * 0.15;
    for (const part of day.parts) {
      if (!part.value) continue;
      const h = bottom - y(part.value);
      base -= h;
      root.append(svg("rect", { x, y: base, width: step * 0.7, height: h, fill: part.color },
                      title(`${day.label} ${part.name}: ${part.value}`)));
    }
    if (i % labelEvery === 0) {  // at most 8 labels: 60 minutes must stay readable
      const name = svg("text", { x: x + step * 0.35, y: height - 6, "text-anchor": "middle" });
      name.textContent = day.label;
      root.append(name);
    }
  });
  return root;
}

// series: [{name, color, points: [{date, value}]}], shared time axis, y fixed to [yMin, yMax].
export function lines(series, { width = 360, height = 180, yMin = 0, yMax = 100,
                                 label = "line chart", bands = [] } = {}) {
  const root = frame(width, height, label);
  const all = series.flatMap((s) => s.points.map((p) => Date.parse(p.date)));
  const left = 30, right = 8, bottom = height - 22, top = 8;
  const x = scale(Math.min(...all), Math.max(...all), left, width - right);
  const y = scale(yMin, yMax, bottom, top);
  for (const band of bands) {  // e.g. the level thresholds
    root.append(svg("line", { x1: left, x2: width - right, y1: y(band.value), y2: y(band.value),
                              stroke: band.color, "stroke-dasharray": "3 3", "stroke-width": 1 }));
    const t = svg("text", { x: left - 4, y: y(band.value) + 4, "text-anchor": "end" });
    t.textContent = String(band.value);
    root.append(t);
  }
  root.append(svg("line", { x1: left, x2: width - right, y1: bottom, y2: bottom, class: "vt-axis" }));
  for (const s of series) {
    const pts = s.points.map((p) => [x(Date.parse(p.date)), y(p.value)]);
    if (pts.length > 1) {
      root.append(svg("polyline", { points: pts.map((c) => c.join(",")).join(" "), fill: "none",
                                    stroke: s.color, "stroke-width": 2 }));
    }
    s.points.forEach((p, i) => root.append(
      svg("circle", { cx: pts[i][0], cy: pts[i][1], r: 2.5, fill: s.color },
          title(`${s.name} ${p.date}: ${p.value}`))));
  }
  const dates = series.flatMap((s) => s.points.map((p) => p.date)).sort();
  if (dates.length) {
    for (const [d, anchor, px] of [[dates[0], "start", left], [dates[dates.length - 1], "end", width - right]]) {
      const t = svg("text", { x: px, y: height - 6, "text-anchor": anchor });
      t.textContent = d.slice(5);
      root.append(t);
    }
  }
  return root;
}

const NEAR_X = 3;   // px: marks closer than this in time ...
const NEAR_Y = 7;   // ... and in value would cover each other
const FAN_STEP = 7; // px between the fanned-out marks of one cluster
const KIND_ORDER = { resolved: 0, conflict: 1, flagged: 2 };

// Group marks that would cover each other and move each group's members apart horizontally
// (centred on the group, in the order kind, source, value: the same data always gives the
// same picture). Sets m.cx, m.stack; returns [{cx, cy, size}] of the groups of two or more.
export function spread(marks) {
  const order = [...marks].sort((a, b) => a.cx - b.cx || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]
    || String(a.p.source).localeCompare(String(b.p.source)) || a.p.value - b.p.value);
  const groups = [];
  for (const m of order) {
    let group = null;
    for (let i = groups.length - 1; i >= 0 && m.cx - groups[i].cx < NEAR_X; i -= 1) {
      if (Math.abs(m.cy - groups[i].cy) < NEAR_Y) { group = groups[i]; break; }
    }
    if (group) group.members.push(m);
    else groups.push({ cx: m.cx, cy: m.cy, members: [m] });
  }
  const shared = [];
  for (const g of groups) {
    const n = g.members.length;
    g.members.forEach((m, i) => { m.stack = n; m.cx = g.cx + (i - (n - 1) / 2) * FAN_STEP; });
    if (n > 1) shared.push({ cx: g.cx, cy: Math.min(...g.members.map((m) => m.cy)), size: n });
  }
  return shared;
}

// The drill-down: resolved series as a line with dots, conflicting values from other
// sources as hollow violet diamonds, flagged samples as red triangles. The y axis is set by
// the resolved and conflicting values only: a flagged value outside it (412 kg among 80s)
// is drawn clamped to the edge, pointing out, with its value written beside it; flagged
// samples never join the resolved line. The axis carries the unit.
export function samplesChart({ resolved, conflicts, flagged, from, to, unit,
                               width = 720, height = 260 }) {
  const root = frame(width, height, "samples over time");
  const trusted = [...resolved, ...conflicts].map((p) => p.value);
  const [v0, v1] = extent(trusted.length ? trusted : flagged.map((p) => p.value));
  const left = 48, right = 10, bottom = height - 24, top = 18;
  const x = scale(from, to, left, width - right);
  const y = scale(v0, v1, bottom, top);
  const unitLabel = svg("text", { x: 4, y: 11, class: "vt-axis-unit" });
  unitLabel.textContent = unit || "";
  root.append(unitLabel);
  for (const tick of [v0, (v0 + v1) / 2, v1]) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "vt-axis" }));
    const t = svg("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end" });
    t.textContent = tick.toFixed(Math.abs(v1 - v0) < 10 ? 1 : 0);
    root.append(t);
  }
  // a range of a day or two is labelled with times (UTC, as the tooltips), longer with dates
  const short = to - from <= 2 * 86_400_000;
  const stamp = (ms) => (short ? new Date(ms).toISOString().slice(5, 16).replace("T", " ")
    : new Date(ms).toISOString().slice(0, 10));
  const axis = short ? [[from, "start", left], [(from + to) / 2, "middle", x((from + to) / 2)],
                        [to, "end", width - right]]
    : [[from, "start", left], [to, "end", width - right]];
  for (const [ms, anchor, px] of axis) {
    const t = svg("text", { x: px, y: height - 6, "text-anchor": anchor, class: "vt-time-label" });
    t.textContent = stamp(ms);
    root.append(t);
  }
  // Every reading at its moment (a day is 1/days of the width: readings of one day spread by
  // their time); marks that would cover each other (the same moment, or within a pixel or
  // two, and about the same value) are fanned out side by side, in a fixed order, with "×n".
  const marks = [
    ...[...resolved].sort((a, b) => Date.parse(a.measured_at) - Date.parse(b.measured_at))
      .map((p) => ({ p, kind: "resolved" })),
    ...conflicts.map((p) => ({ p, kind: "conflict" })),
    ...flagged.map((p) => ({ p, kind: "flagged" })),
  ];
  for (const m of marks) {
    m.cx = x(Date.parse(m.p.measured_at));
    m.clamped = m.kind !== "flagged" ? "no" : m.p.value > v1 ? "above" : m.p.value < v0 ? "below" : "no";
    m.cy = m.clamped === "above" ? top : m.clamped === "below" ? bottom : y(m.p.value);
  }
  const clusters = spread(marks);
  const tip = (p, what) => `${what}: ${p.value} ${unit} at ${p.measured_at}` +
    (p.source ? ` (${p.source})` : "") + (p.note ? ` — ${p.note}` : "");
  const resolvedMarks = marks.filter((m) => m.kind === "resolved");
  if (resolvedMarks.length > 1) {
    root.append(svg("polyline", { points: resolvedMarks.map((m) => `${m.cx},${m.cy}`).join(" "),
                                  fill: "none", stroke: "#2456c7", "stroke-width": 1.6,
                                  class: "vt-series-resolved" }));
  }
  for (const m of marks) {
    const { p, cx, cy } = m;
    const shared = m.stack > 1 ? `, one of ${m.stack} readings drawn side by side` : "";
    const common = { "data-at": p.measured_at, "data-stack": m.stack > 1 ? m.stack : null };
    if (m.kind === "resolved") {
      root.append(svg("circle", { cx, cy, r: 3, fill: "#2456c7", class: "vt-point-resolved", ...common },
                      title(tip(p, "resolved") + shared)));
    } else if (m.kind === "conflict") {
      root.append(svg("rect", { x: cx - 4, y: cy - 4, width: 8, height: 8, fill: "#fff",
                                stroke: "#8a5cf5", "stroke-width": 2,
                                transform: `rotate(45 ${cx} ${cy})`, class: "vt-point-conflict", ...common },
                      title(tip(p, "conflicting value") + shared)));
    } else {
      // outside the scale: a triangle at the edge pointing out, with the value written
      const d = m.clamped === "below" ? `M${cx},${cy + 6} L${cx + 5.5},${cy - 4} L${cx - 5.5},${cy - 4} Z`
        : `M${cx},${cy - 6} L${cx + 5.5},${cy + 4} L${cx - 5.5},${cy + 4} Z`;
      root.append(svg("path", { d, fill: "#c0392b", class: "vt-point-flagged", "data-clamped": m.clamped, ...common },
                      title(tip(p, "flagged") + shared)));
      if (m.clamped !== "no") {
        const label = svg("text", { x: cx + 7, y: m.clamped === "above" ? top + 4 : bottom - 2, class: "vt-flag-value" });
        label.textContent = `${p.value} ${unit || ""}`.trim();
        root.append(label);
      }
    }
  }
  for (const c of clusters) {
    const count = svg("text", { x: c.cx, y: Math.max(top - 6, c.cy - 9), "text-anchor": "middle", class: "vt-stack-count" });
    count.textContent = `×${c.size}`;
    root.append(count);
  }
  return root;
}
