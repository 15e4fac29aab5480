// Discover: query bar (errors shown at their column), time range (quick or absolute),
// an events-over-time histogram (stack by a field; drag to zoom), the hits with chosen
// columns expanding to the whole ECS document, a field sidebar with top values (click to
// filter in or out), paging. The whole state lives in the URL, so a link can be shared.
import { $, api, el, flatten, geoBadge, get, literal, navigate, show, sourceOf } from "./util.js";
import { drawHistogram } from "./chart.js";

const PAGE = 100;
const DEFAULT_COLS = [["host", "host.name"], ["source", null], ["message", "message"]];
let state = null;
let seq = 0;   // answers of an older search are dropped

function readUrl() {
  const p = new URLSearchParams(window.location.search);
  const s = {
    q: p.get("q") || "", since: "1h", from: p.get("from") || "", to: p.get("to") || "",
    cols: (p.get("cols") || "").split(",").filter(Boolean), split: p.get("split") || "",
    sort: p.get("sort") || "", page: Math.max(0, parseInt(p.get("page") || "0", 10) || 0),
  };
  if (s.from || s.to) s.since = "custom";
  else if (p.has("since")) s.since = p.get("since");
  else if (p.has("q")) s.since = "";   // an alert link (q only) searches all time
  return s;
}

function writeUrl(push) {
  const p = new URLSearchParams();
  p.set("q", state.q);
  if (state.since === "custom") { if (state.from) p.set("from", state.from); if (state.to) p.set("to", state.to); }
  else p.set("since", state.since);
  if (state.cols.length) p.set("cols", state.cols.join(","));
  if (state.split) p.set("split", state.split);
  if (state.sort) p.set("sort", state.sort);
  if (state.page) p.set("page", String(state.page));
  const url = `/?${p}`;
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}

function windowParams() {
  if (state.since === "custom") return { from: state.from, to: state.to };
  return state.since ? { since: state.since } : {};
}

function formToState() {
  state.q = $("#q").value;
  state.since = $("#since").value;
  state.from = $("#from").value.trim();
  state.to = $("#to").value.trim();
}

function stateToForm() {
  $("#q").value = state.q;
  const sel = $("#since");
  if (![...sel.options].some((o) => o.value === state.since)) sel.append(new Option(state.since, state.since));
  sel.value = state.since;
  $("#from").value = state.from;
  $("#to").value = state.to;
  $("#absolute").hidden = state.since !== "custom";
  const split = $("#split");
  if (state.split && ![...split.options].some((o) => o.value === state.split)) split.append(new Option(state.split, state.split));
  split.value = state.split;
}

function showQueryError(err) {
  const box = $("#q-error");
  if (typeof err.position !== "number") { box.hidden = true; return; }
  box.textContent = `${state.q}\n${" ".repeat(err.position)}^ column ${err.position + 1}`;
  box.dataset.column = String(err.position + 1);
  box.hidden = false;
  const q = $("#q");
  q.focus();
  q.setSelectionRange(err.position, Math.min(state.q.length, err.position + 1));
}

export function addFilter(field, value, negate) {
  const term = `${negate ? "NOT " : ""}${field}:${literal(value)}`;
  state.q = state.q.trim() ? `(${state.q.trim()}) AND ${term}` : term;
  state.page = 0;
  stateToForm();
  run(true);
}

function columns() {
  if (!state.cols.length) return DEFAULT_COLS;
  return state.cols.map((c) => [c, c]);
}

function cell(h, path) {
  if (path === null) return sourceOf(h);   // the default "source" column
  const badge = geoBadge(h, path);   // an address column: its country and AS beside it
  if (badge) return [show(get(h, path)), " ", badge];
  if (path === "message") {   // the client address leads an access line: say where it is from
    const src = geoBadge(h, "source.ip");
    if (src) return [src, " ", show(get(h, path))];
  }
  return show(get(h, path));
}

function toggleColumn(field) {
  const i = state.cols.indexOf(field);
  if (i >= 0) state.cols.splice(i, 1); else state.cols.push(field);
  writeUrl(false);
  renderHits(lastHits);
}

let lastHits = { total: 0, hits: [] };

function renderHits(res) {
  lastHits = res;
  const cols = columns();
  const sortDesc = !state.sort || state.sort.endsWith(":desc") || !state.sort.includes(":");
  const head = $("#hits thead tr");
  head.replaceChildren(
    el("th", { class: "sortable", title: "sort by time", onclick: () => {
      state.sort = sortDesc ? "@timestamp:asc" : ""; state.page = 0; run(true);
    } }, `time ${sortDesc ? "↓" : "↑"}`),
    ...cols.map(([name, path]) => el("th", {}, name, state.cols.includes(path)
      ? el("button", { class: "x", title: "remove column", onclick: (e) => { e.stopPropagation(); toggleColumn(path); } }, "×") : null)));
  const tbody = $("#hits tbody");
  tbody.replaceChildren(...res.hits.map((h) => {
    const tr = el("tr", { class: "hit", onclick: () => toggleDetail(tr, h, cols.length + 1) },
      el("td", { class: "time" }, h["@timestamp"]),
      ...cols.map(([, path]) => el("td", { class: path === "message" ? "msg" : "" }, cell(h, path))));
    return tr;
  }));
  $("#total").textContent = `(${res.total})`;
  const first = res.total ? state.page * PAGE + 1 : 0;
  $("#page-label").textContent = `${first}–${state.page * PAGE + res.hits.length} of ${res.total}`;
  $("#prev").disabled = state.page === 0;
  $("#next").disabled = (state.page + 1) * PAGE >= res.total;
}

function toggleDetail(tr, doc, span) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains("detail")) { next.remove(); tr.classList.remove("open"); return; }
  tr.classList.add("open");
  const json = JSON.stringify(doc, null, 2);
  const copy = el("button", { type: "button", class: "copy", onclick: async (e) => {
    e.stopPropagation();
    try { await navigator.clipboard.writeText(json); }
    catch (err) {   // no clipboard permission: select the text so Ctrl-C copies it
      const range = document.createRange(); range.selectNodeContents(pre);
      const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      document.execCommand("copy");
    }
    copy.textContent = "copied";
  } }, "Copy JSON");
  const pre = el("pre", { class: "json" }, json);
  const rows = flatten(doc).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => el("tr", {},
    el("th", {}, k),
    el("td", {}, show(v), ...[geoBadge(doc, k)].filter(Boolean).map((b) => [" ", b])),
    el("td", { class: "act" },
      el("button", { type: "button", title: `filter for ${k}`, onclick: (e) => { e.stopPropagation(); addFilter(k, v, false); } }, "+"),
      el("button", { type: "button", title: `filter out ${k}`, onclick: (e) => { e.stopPropagation(); addFilter(k, v, true); } }, "−"),
      el("button", { type: "button", title: "toggle column", onclick: (e) => { e.stopPropagation(); toggleColumn(k); } }, "▥"))));
  const detail = el("tr", { class: "detail" }, el("td", { colspan: span },
    el("div", { class: "detail-grid" },
      el("table", { class: "fields-table" }, el("tbody", {}, rows)),
      el("div", {}, copy, pre))));
  tr.after(detail);
}

async function renderFields(my) {
  let res;
  try { res = await api("/api/fields", { q: state.q, ...windowParams(), sample: 500 }); }
  catch (e) { $("#fields").replaceChildren(el("li", { class: "hint" }, e.message)); return; }
  if (my !== seq) return;
  $("#fields-sample").textContent = res.sample ? `(newest ${res.sample})` : "";
  const split = $("#split");
  const keep = state.split;
  split.replaceChildren(new Option("—", ""), ...res.fields.filter((f) => !["text", "date", "double"].includes(f.type)).map((f) => new Option(f.name, f.name)));
  if (keep && ![...split.options].some((o) => o.value === keep)) split.append(new Option(keep, keep));
  split.value = keep;
  const filter = $("#field-filter").value.toLowerCase();
  $("#fields").replaceChildren(...res.fields.filter((f) => f.name.toLowerCase().includes(filter)).map((f) => {
    const values = el("ul", { class: "values", hidden: true });
    const li = el("li", { class: "field", "data-field": f.name },
      el("div", { class: "fname", onclick: () => expandField(f, values) },
        el("span", { class: `type t-${f.type}` }, f.type[0]), el("span", { class: "name" }, f.name),
        el("small", {}, String(f.count)),
        el("button", { type: "button", class: "col", title: "show as a column",
                       onclick: (e) => { e.stopPropagation(); toggleColumn(f.name); } }, "▥")),
      values);
    return li;
  }));
}

async function expandField(f, ul) {
  if (!ul.hidden) { ul.hidden = true; return; }
  ul.hidden = false;
  let values = f.top || [];
  let total = null;
  if (f.type !== "text") {
    try {
      const top = await api("/api/top", { q: state.q, ...windowParams(), field: f.name, size: 5 });
      values = top.values; total = top.total;
    } catch (e) { /* a field /api/top cannot count (text): the sample's values stay */ }
  }
  ul.replaceChildren(...values.map((v) => el("li", { class: "value" },
    el("span", { class: "v" }, show(v.value)),
    el("small", {}, total ? `${Math.round((100 * v.count) / total)}%` : String(v.count)),
    el("button", { type: "button", class: "in", title: "filter for this value", onclick: () => addFilter(f.name, v.value, false) }, "+"),
    el("button", { type: "button", class: "out", title: "filter out this value", onclick: () => addFilter(f.name, v.value, true) }, "−"))));
  if (!values.length) ul.append(el("li", { class: "hint" }, "no values to count (full-text field)"));
}

async function histogramWindow() {
  // all time: from the oldest to the newest matching event, so the buckets fit the data
  if (state.since !== "") return windowParams();
  const [newest, oldest] = await Promise.all([
    api("/api/search", { q: state.q, limit: 1 }), api("/api/search", { q: state.q, limit: 1, sort: "@timestamp:asc" })]);
  if (!newest.hits.length) return null;
  const last = new Date(new Date(newest.hits[0]["@timestamp"]).getTime() + 1000).toISOString();
  return { from: oldest.hits[0]["@timestamp"], to: last };
}

async function renderChart(my) {
  try {
    const win = await histogramWindow();
    if (my !== seq) return;
    if (!win) { drawHistogram(null); return; }
    const h = await api("/api/histogram", { q: state.q, ...win, buckets: 60, split: state.split });
    if (my !== seq) return;
    drawHistogram(h, zoomTo);
  } catch (e) { $("#range-label").textContent = `chart: ${e.message}`; }
}

function zoomTo(fromMs, toMs) {
  state.since = "custom";
  state.from = new Date(fromMs).toISOString();
  state.to = new Date(toMs).toISOString();
  state.page = 0;
  stateToForm();
  run(true);
}

async function renderAlerts(my) {
  try {
    const res = await api("/api/alerts", { ...windowParams(), limit: 20 });
    if (my !== seq) return;
    $("#alerts").replaceChildren(...res.hits.map((a) => {
      const group = Object.entries(get(a, "alert.group") || {}).map(([k, v]) => `${k}=${v}`).join(" ");
      return el("li", { title: get(a, "rule.description") || "", onclick: () => navigate(`/alerts/${encodeURIComponent(get(a, "event.id"))}`) },
        el("span", { class: `level l-${get(a, "alert.level")}` }, get(a, "alert.level")),
        el("div", {}, get(a, "rule.name")), el("div", { class: "group" }, group),
        el("small", {}, `${get(a, "alert.count") || 1} events, last ${get(a, "alert.last_seen") || a["@timestamp"]}` +
          (get(a, "alert.status") === "recovered" ? " (recovered)" : "")),
        el("div", { class: "author" }, `rule by ${get(a, "rule.author") || "unknown"}`));
    }));
  } catch (e) { /* the alert list is secondary: the search's own status says what failed */ }
}

async function run(push) {
  writeUrl(push);
  const my = ++seq;
  const status = $("#status");
  status.textContent = "searching…";
  status.className = "";
  $("#q-error").hidden = true;
  $("#range-label").textContent = state.since === "custom" ? `${state.from || "…"} → ${state.to || "now"}`
    : state.since ? `last ${state.since}` : "all time";
  try {
    const res = await api("/api/search", { q: state.q, ...windowParams(), limit: PAGE, offset: state.page * PAGE, sort: state.sort });
    if (my !== seq) return;
    renderHits(res);
    status.textContent = "";
  } catch (err) {
    if (my !== seq) return;
    status.textContent = err.message;
    status.className = "error";
    showQueryError(err);
    return;
  }
  renderChart(my);
  renderFields(my);
  renderAlerts(my);
}

let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  $("#search-form").addEventListener("submit", (e) => { e.preventDefault(); formToState(); state.page = 0; run(true); });
  $("#since").addEventListener("change", () => {
    $("#absolute").hidden = $("#since").value !== "custom";
    if ($("#since").value !== "custom") { formToState(); state.page = 0; run(true); }
  });
  $("#split").addEventListener("change", () => { state.split = $("#split").value; writeUrl(false); renderChart(seq); });
  $("#prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); run(true); });
  $("#next").addEventListener("click", () => { state.page += 1; run(true); });
  $("#field-filter").addEventListener("input", () => renderFields(seq));
}

export function enter() {
  wire();
  state = readUrl();
  stateToForm();
  run(false);
}
