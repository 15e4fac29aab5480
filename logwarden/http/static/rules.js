// Rules: the rule set the rules stage runs (GET /api/rules) - level, kind, tags, status and
// alerts in the last 24 h, filtered and sorted in the URL (?q=&sort=) - with the files that
// failed to load (file:line: reason); and one rule's page (GET /api/rules/ID): its metadata,
// the YAML of its document and its recent alerts, each linking to its alert page and its
// events in Discover.
import { $, api, el, get, show } from "./util.js";

const RANK = { critical: 0, high: 1, medium: 2, low: 3, informational: 4 };
const SORTS = {
  level: (a, b) => RANK[a.level] - RANK[b.level] || a.title.localeCompare(b.title),
  matches: (a, b) => (b.matches_24h || 0) - (a.matches_24h || 0) || RANK[a.level] - RANK[b.level] || a.title.localeCompare(b.title),
  title: (a, b) => a.title.localeCompare(b.title),
};

function matches(r, q) {
  if (!q) return true;
  const hay = [r.title, r.id, r.name, r.level, r.kind, r.status, r.author, r.file, ...(r.tags || [])].join(" ").toLowerCase();
  return q.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}

const plural = (n, word) => `${n ?? "?"} ${word}${n === 1 ? "" : "s"}`;
const where = (r) => `${r.file}:${r.line}`;

export const list = {
  body: null,
  async enter() {
    if (!list.wired) {
      list.wired = true;
      $("#rules-filter").addEventListener("input", () => { list.toUrl(); list.render(); });
      for (const th of document.querySelectorAll("#rule-list th[data-sort]")) {
        th.addEventListener("click", () => { list.sort = th.dataset.sort; list.toUrl(); list.render(); });
      }
    }
    const p = new URLSearchParams(window.location.search);
    $("#rules-filter").value = p.get("q") || "";
    list.sort = SORTS[p.get("sort")] ? p.get("sort") : "level";
    const status = $("#rules-status");
    status.textContent = "loading…";
    status.className = "";
    try {
      list.body = await api("/api/rules");
    } catch (e) {
      status.textContent = e.message;
      status.className = "error";
      return;
    }
    list.render();
  },
  toUrl() {
    const p = new URLSearchParams();
    if ($("#rules-filter").value) p.set("q", $("#rules-filter").value);
    if (list.sort !== "level") p.set("sort", list.sort);
    history.replaceState(null, "", p.toString() ? `/rules?${p}` : "/rules");
  },
  render() {
    const b = list.body;
    if (!b) return;
    const q = $("#rules-filter").value.trim();
    const rows = b.rules.filter((r) => matches(r, q)).sort(SORTS[list.sort]);
    for (const th of document.querySelectorAll("#rule-list th[data-sort]")) th.classList.toggle("sorted", th.dataset.sort === list.sort);
    $("#rule-list tbody").replaceChildren(...rows.map((r) => el("tr", { class: "rule-row", "data-id": r.id },
      el("td", {}, el("a", { href: `/rules/${encodeURIComponent(r.id)}`, "data-nav": true }, r.title)),
      el("td", {}, el("span", { class: `level l-${r.level}` }, r.level)),
      el("td", {}, r.kind),
      el("td", { class: "tags" }, (r.tags || []).join(" ")),
      el("td", {}, r.status || ""),
      el("td", { class: `matches${r.matches_24h ? " warn" : ""}` }, r.matches_24h == null ? "-" : String(r.matches_24h)),
      el("td", { class: "where" }, where(r)))));
    const s = b.summary || {};
    $("#rules-status").textContent = `${rows.length} of ${b.rules.length} shown: ${plural(s.rules, "rule")}, ` +
      `${plural(s.correlations, "correlation")}, ${plural(b.errors.length, "load error")}` +
      (b.matches_error ? ` (alert counts unavailable: ${b.matches_error})` : "");
    $("#rules-status").className = b.matches_error ? "error" : "";
    $("#rule-errors-card").hidden = !b.errors.length;
    $("#rule-errors").replaceChildren(...b.errors.map((e) => el("li", { class: "load-error" },
      el("code", { class: "where" }, `${e.file}:${e.line}`), ": ", e.reason)));
  },
};

function dl(target, rows) {
  $(target).replaceChildren(...rows.filter(([, v]) => v !== "" && v != null && !(Array.isArray(v) && !v.length))
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v instanceof Node ? v : show(v))]));
}

export const detail = {
  async enter(id) {
    $("#rule-title").textContent = "loading…";
    $("#rule-level").textContent = "";
    $("#rule-yaml").textContent = "";
    $("#rule-alerts tbody").replaceChildren();
    let b;
    try {
      b = await api(`/api/rules/${encodeURIComponent(id)}`);
    } catch (e) {
      $("#rule-title").textContent = e.message;
      return;
    }
    const r = b.rule;
    $("#rule-title").textContent = r.title;
    $("#rule-level").textContent = r.level;
    $("#rule-level").className = `level l-${r.level}`;
    const ls = r.logsource ? Object.entries(r.logsource).map(([k, v]) => `${k}=${v}`).join(" ") : "";
    dl("#rule-meta", [["id", r.id], ["name", r.name], ["kind", r.kind], ["status", r.status], ["author", r.author],
      ["tags", r.tags], ["logsource", ls], ["description", r.description], ["references", r.references],
      ["false positives", r.falsepositives], ["date", r.modified || r.date], ["file", `${r.file}:${r.line}`]]);
    $("#rule-yaml").textContent = b.yaml;
    $("#rule-alerts-list").setAttribute("href", `/alerts?${new URLSearchParams({ q: b.alerts_query, since: "" })}`);
    const hits = b.alerts.hits || [];
    $("#rule-alerts-total").textContent = `(${b.alerts.total})`;
    $("#rule-alerts-error").textContent = b.alerts_error || "";
    $("#rule-alerts tbody").replaceChildren(...hits.map((a) => {
      const aid = get(a, "event.id");
      const group = Object.entries(get(a, "alert.group") || {}).map(([k, v]) => `${k}=${v}`).join(" ");
      const q = get(a, "alert.query") || "";
      return el("tr", { class: "alert-row", "data-id": aid },
        el("td", { class: "time" }, el("a", { href: `/alerts/${encodeURIComponent(aid)}`, "data-nav": true, class: "alert-link" }, a["@timestamp"])),
        el("td", {}, el("span", { class: `level l-${get(a, "alert.level")}` }, get(a, "alert.level"))),
        el("td", { class: "group" }, group),
        el("td", {}, String(get(a, "alert.count") || 1) + (get(a, "alert.status") === "recovered" ? " (recovered)" : "")),
        el("td", {}, q ? el("a", { href: `/?${new URLSearchParams({ q, since: "" })}`, "data-nav": true, class: "discover-link" }, "events in Discover") : ""));
    }));
    if (!hits.length && !b.alerts_error) $("#rule-alerts tbody").append(el("tr", {}, el("td", { colspan: 5, class: "hint" }, "no alerts from this rule")));
  },
};
