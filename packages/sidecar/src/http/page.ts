/**
 * The live status page served at `/`: one self-contained HTML document (no external resource) that
 * polls `/api/status` every second and draws the DAG of sources and stream tables (SVG, columns
 * by depth) with each table's state, freshness, last refresh and current gate hold, the health
 * rows, the leader, and the recent refreshes of this process. Rule: every value from the database
 * reaches the page through `textContent`, never as markup.
 */

/** The page. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgtrickle status</title>
<style>
  :root { --ok: #2e7d32; --pending: #1565c0; --held: #b26a00; --stale: #d84315; --error: #c62828; --muted: #666; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { padding: 12px 20px; background: #263238; color: #fff; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .item { opacity: .9; }
  main { padding: 12px 20px; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; margin-bottom: 14px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
  th { font-weight: 600; color: #444; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; }
  .ok { background: var(--ok); } .pending { background: var(--pending); } .held { background: var(--held); }
  .stale { background: var(--stale); } .error { background: var(--error); } .source { background: #78909c; }
  .OK { background: var(--ok); } .WARNING { background: var(--held); } .CRITICAL { background: var(--error); }
  .muted { color: var(--muted); }
  svg text { font: 12px system-ui, sans-serif; }
  svg .name { font-weight: 600; fill: #fff; }
  svg .detail { fill: #fff; opacity: .9; }
  svg path { fill: none; stroke: #90a4ae; stroke-width: 1.5; }
  #problem { color: var(--error); font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>pgtrickle</h1>
  <span class="item" id="leader">…</span>
  <span class="item" id="ticks"></span>
  <span class="item">updated <span id="updated-at">never</span></span>
  <span class="item" id="problem"></span>
</header>
<main>
  <section><h2>Health</h2><table><tbody id="health"></tbody></table></section>
  <section><h2>Pipeline</h2><svg id="dag" width="100%" height="80" role="img" aria-label="sources and stream tables"></svg></section>
  <section>
    <h2>Stream tables</h2>
    <table>
      <thead><tr><th>name</th><th>state</th><th>mode</th><th>schedule</th><th>fresh</th><th>last refresh</th><th>data changed</th><th>gate hold</th><th>refreshes</th><th>errors</th></tr></thead>
      <tbody id="tables"></tbody>
    </table>
  </section>
  <section><h2>Recent refreshes by this sidecar</h2>
    <table>
      <thead><tr><th>at</th><th>table</th><th>action</th><th>rows +/−</th><th>ms</th><th>error</th></tr></thead>
      <tbody id="recent"></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 1) return "just now";
  const n = seconds < 120 ? Math.round(seconds) + " s" : seconds < 7200 ? Math.round(seconds / 60) + " min"
    : seconds < 172800 ? Math.round(seconds / 3600) + " h" : Math.round(seconds / 86400) + " d";
  return n + " ago";
}
function since(iso, now) { return iso === null ? null : (now - Date.parse(iso)) / 1000; }

/** ok, pending, held, stale or error. */
function stateOf(t) {
  if (t.status === "ERROR" || t.status === "SUSPENDED") return "error";
  if (t.stale) return "stale";
  if (!idleHold(t.hold)) return "held";
  if (t.pending) return "pending";
  return "ok";
}
function stateText(t) {
  const s = stateOf(t);
  return s === "error" ? t.status : s === "ok" ? "fresh" : s;
}

/** Holds that only mean "nothing to do now". */
function idleHold(h) {
  return !h || (h.decision === "skip" && (h.gate === "schedule" || h.gate === "upstream-changes"));
}
function holdText(h) {
  if (!h) return "—";
  if (h.decision === "skip" && h.gate === "schedule") return "waiting for its schedule";
  if (h.decision === "skip" && h.gate === "upstream-changes") return "nothing to apply";
  return h.gate + " (" + h.decision + "): " + h.reason;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function badge(td, text, cls) {
  const b = document.createElement("span");
  b.className = "badge " + cls;
  b.textContent = text;
  td.appendChild(b);
}

function renderHealth(s) {
  const body = $("health");
  body.replaceChildren();
  const rows = s.catalog.ok ? s.health : [{ severity: "CRITICAL", component: "catalog", reason: s.catalog.error }];
  for (const h of rows) {
    const tr = document.createElement("tr");
    badge(cell(tr, ""), h.severity, h.severity);
    cell(tr, h.component);
    cell(tr, h.reason);
    body.appendChild(tr);
  }
}

function renderTables(s, now) {
  const body = $("tables");
  body.replaceChildren();
  for (const t of s.tables) {
    const tr = document.createElement("tr");
    tr.dataset.table = t.name;
    tr.dataset.refreshes = String(t.refreshes);
    tr.dataset.state = stateOf(t);
    cell(tr, t.name);
    badge(cell(tr, ""), stateText(t), stateOf(t));
    cell(tr, t.effectiveMode);
    cell(tr, t.schedule);
    cell(tr, age(t.stalenessSeconds));
    cell(tr, age(since(t.lastRefreshAt, now)));
    cell(tr, age(t.dataAgeSeconds));
    cell(tr, holdText(t.hold), idleHold(t.hold) ? "muted" : "");
    cell(tr, String(t.refreshes));
    cell(tr, t.consecutiveErrors > 0 ? t.consecutiveErrors + " " + (t.lastError || "") : "0");
    body.appendChild(tr);
  }
}

function renderRecent(s) {
  const body = $("recent");
  body.replaceChildren();
  for (const r of s.recent.slice(0, 15)) {
    const tr = document.createElement("tr");
    cell(tr, new Date(r.at).toLocaleTimeString());
    cell(tr, r.table);
    cell(tr, r.outcome === "failed" ? "FAILED" : r.action);
    cell(tr, "+" + r.rowsInserted + " / −" + r.rowsDeleted);
    cell(tr, String(r.durationMs));
    cell(tr, r.error || "");
    body.appendChild(tr);
  }
}

/** Columns by depth: sources first, each table one column right of its deepest input. */
function layout(s) {
  const inputs = new Map();
  for (const e of s.edges) {
    if (!inputs.has(e.to)) inputs.set(e.to, []);
    inputs.get(e.to).push(e.from);
  }
  const depth = new Map();
  for (const src of s.sources) depth.set(src.id, 0);
  const depthOf = (id, guard) => {
    if (depth.has(id)) return depth.get(id);
    if (guard > 64) return 1;
    const d = 1 + Math.max(0, ...(inputs.get(id) || []).map((i) => depthOf(i, guard + 1)));
    depth.set(id, d);
    return d;
  };
  for (const t of s.tables) depthOf(t.name, 0);
  const columns = [];
  const nodes = [
    ...s.sources.map((x) => ({ id: x.id, label: x.name, kind: "source" })),
    ...s.tables.map((t) => ({ id: t.name, label: t.name, kind: "table", table: t })),
  ];
  for (const n of nodes) {
    const d = depth.get(n.id) || 0;
    (columns[d] = columns[d] || []).push(n);
  }
  const W = 280, H = 46, GX = 60, GY = 18;
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.id, { x: 10 + c * (W + GX), y: 10 + r * (H + GY), n })));
  const rows = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
  return { pos, W, H, width: 20 + columns.length * (W + GX), height: 20 + rows * (H + GY) };
}

function renderDag(s, now) {
  const svg = $("dag");
  svg.replaceChildren();
  const { pos, W, H, width, height } = layout(s);
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.style.maxWidth = width + "px";
  for (const e of s.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2);
    svg.appendChild(p);
  }
  const colors = { ok: "#2e7d32", pending: "#1565c0", held: "#b26a00", stale: "#d84315", error: "#c62828", source: "#78909c" };
  for (const { x, y, n } of pos.values()) {
    const g = document.createElementNS(SVG, "g");
    g.dataset.node = n.id;
    const state = n.kind === "source" ? "source" : stateOf(n.table);
    g.dataset.state = state;
    const rect = document.createElementNS(SVG, "rect");
    for (const [k, v] of [["x", x], ["y", y], ["width", W], ["height", H], ["rx", 6], ["fill", colors[state]]]) rect.setAttribute(k, String(v));
    g.appendChild(rect);
    const title = document.createElementNS(SVG, "text");
    title.setAttribute("x", String(x + 10));
    title.setAttribute("y", String(y + 19));
    title.setAttribute("class", "name");
    title.textContent = n.label.length > 36 ? n.label.slice(0, 35) + "…" : n.label;
    g.appendChild(title);
    const detail = document.createElementNS(SVG, "text");
    detail.setAttribute("x", String(x + 10));
    detail.setAttribute("y", String(y + 36));
    detail.setAttribute("class", "detail");
    if (n.kind === "source") detail.textContent = "source table";
    else {
      const t = n.table;
      detail.textContent = stateText(t) + " · " + t.effectiveMode + " · " + (t.stalenessSeconds === null ? "never fresh" : "fresh " + age(t.stalenessSeconds));
    }
    g.appendChild(detail);
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = n.kind === "source" ? n.label : n.label + (n.table.hold ? "\\nheld by " + n.table.hold.gate + ": " + n.table.hold.reason : "");
    g.appendChild(tip);
    svg.appendChild(g);
  }
}

async function poll() {
  try {
    const res = await fetch("api/status", { cache: "no-store" });
    const s = await res.json();
    const now = Date.parse(s.at);
    $("leader").textContent = s.leader.leading
      ? "leader (epoch " + s.leader.epoch + ")"
      : "standby" + (s.leader.holder ? ", leader " + s.leader.holder + " (epoch " + s.leader.epoch + ")" : ", no leader");
    $("ticks").textContent = s.service.ticks + " ticks";
    $("problem").textContent = s.readiness.ready ? "" : "not ready: " + s.readiness.reasons.join("; ");
    renderHealth(s);
    renderDag(s, now);
    renderTables(s, now);
    renderRecent(s);
    $("updated-at").textContent = new Date(s.at).toLocaleTimeString();
    document.body.dataset.updatedAt = s.at;
  } catch (error) {
    $("problem").textContent = "the sidecar does not answer: " + error;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
