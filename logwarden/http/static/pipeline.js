// Pipeline: GET /api/status every 2 s - per stage rates, errors, restarts and consumer lag,
// lag per group, topic and partition, topics with records, size and retention, dead letters
// with the newest reasons and a sample of each input, alerts of the last hour, disk. A part the server could not read shows its error in its place.
import { $, api, el, fmtBytes, fmtNum } from "./util.js";

const ORDER = ["agent", "ingest", "broker", "parsers", "index", "rules", "metrics", "http"];
let timer = null;

function fmtMs(ms) {
  if (ms == null) return "-";
  if (ms < 0) return "forever";
  for (const [unit, n] of [["d", 86400000], ["h", 3600000], ["min", 60000], ["s", 1000]]) {
    if (ms >= n && ms % n === 0) return `${ms / n} ${unit}`;
  }
  return `${ms} ms`;
}

function retention(r) {
  if (r.config_error) return el("span", { class: "error" }, r.config_error);
  const parts = [];
  if (r.cleanup_policy && r.cleanup_policy !== "delete") parts.push(r.cleanup_policy);
  if (r.cleanup_policy !== "compact") {
    parts.push(fmtMs(r.retention_ms));
    if (r.retention_bytes != null && r.retention_bytes >= 0) parts.push(`${fmtBytes(r.retention_bytes)}/partition`);
  }
  return parts.join(", ");
}

function err(part) { return part && typeof part === "object" && "error" in part ? part.error : null; }

function render(s) {
  const stages = s.stages || {};
  const names = Object.keys(stages).sort((a, b) => ((ORDER.indexOf(a) + 1) || 99) - ((ORDER.indexOf(b) + 1) || 99) || a.localeCompare(b));
  $("#stages tbody").replaceChildren(...names.map((n) => {
    const r = stages[n];
    const down = r.processes && r.running < r.processes;
    return el("tr", { class: down ? "down" : "", "data-stage": n }, el("td", {}, n),
      el("td", {}, r.processes ? `${r.running}/${r.processes}` : "-"),
      el("td", {}, fmtNum(r.in_per_s, true)), el("td", {}, fmtNum(r.out_per_s, true)),
      el("td", {}, fmtNum(r.errors_per_s, true)), el("td", { class: r.lag ? "lag warn" : "lag" }, fmtNum(r.lag)),
      el("td", {}, fmtNum(r.restarts)));
  }));
  const topics = s.topics || {};
  $("#topics tbody").replaceChildren(...(err(topics) ? [el("tr", {}, el("td", { colspan: 6, class: "error" }, err(topics)))]
    : Object.entries(topics).map(([t, r]) => el("tr", { "data-topic": t }, el("td", {}, t), el("td", {}, fmtNum(r.partitions)),
      el("td", {}, fmtNum(r.retained_records)), el("td", {}, fmtNum(r.end_offsets)), el("td", { class: "size" }, fmtBytes(r.bytes)),
      el("td", { class: "retention" }, retention(r))))));
  const groups = s.consumer_groups || {};
  const lagRows = [];
  if (err(groups)) lagRows.push(el("tr", {}, el("td", { colspan: 4, class: "error" }, err(groups))));
  else {
    for (const [g, row] of Object.entries(groups)) {
      for (const [topic, tr] of Object.entries(row.topics || {})) {
        for (const [p, lag] of Object.entries(tr.partitions || {})) {
          lagRows.push(el("tr", { class: lag ? "warn" : "" }, el("td", {}, g), el("td", {}, topic), el("td", {}, p), el("td", { class: "lag" }, fmtNum(lag))));
        }
      }
    }
  }
  $("#lag tbody").replaceChildren(...lagRows);
  const dlq = s.dead_letters || {};
  $("#dlq").replaceChildren(...(err(dlq) ? [el("p", { class: "error" }, err(dlq))] : [
    el("p", {}, `${fmtNum(dlq.count)} on ${s.dlq_topic || "logs.dlq"}`, (dlq.recent || []).length ? `; the newest ${dlq.recent.length}:` : ""),
    el("ol", { id: "dlq-recent" }, ...(dlq.recent || []).map((d) => el("li", { class: "dead-letter" },
      el("span", { class: "time" }, d.time_ms ? new Date(d.time_ms).toISOString() : "?"), " ",
      el("b", { class: "dlq-type" }, d.type || "?"), ": ", el("span", { class: "dlq-reason" }, d.reason || "?"),
      d.sample ? el("code", { class: "dlq-sample" }, d.sample) : null)))]));
  const ah = s.alerts_last_hour;
  $("#alerts-hour").replaceChildren(err(ah) ? el("p", { class: "error" }, err(ah))
    : el("p", {}, ...Object.entries(ah || {}).map(([lv, n]) => el("span", { class: `level l-${lv}${n ? "" : " dim"}` }, `${lv} ${n}`))));
  const d = s.disk || {};
  $("#disk").replaceChildren(err(d) ? el("p", { class: "error" }, err(d))
    : el("p", {}, `broker log ${fmtBytes(d.broker_log_bytes)}, index ${fmtBytes(d.index_bytes)}, ${fmtBytes(d.filesystem_free_bytes)} free of ${fmtBytes(d.filesystem_total_bytes)}`));
  $("#pipeline-status").textContent = `as of ${new Date(s.time_ms).toISOString()}`;
  $("#pipeline-status").className = "";
}

async function tick() {
  try { render(await api("/api/status")); }
  catch (e) { $("#pipeline-status").textContent = e.message; $("#pipeline-status").className = "error"; }
}

export function enter() {
  leave();
  tick();
  timer = setInterval(tick, 2000);
}

export function leave() { if (timer) clearInterval(timer); timer = null; }
