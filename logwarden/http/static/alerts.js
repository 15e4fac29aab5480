// Alerts: the list (by time, level, rule, triage state; filtered in the URL) and one alert's
// page: its rule, what matched (raw lines), the correlation group, and its triage -
// acknowledge, close or reopen with a note, recorded with who and when for every user.
import { $, api, el, get, navigate, post, session, show } from "./util.js";

const LEVELS = ["critical", "high", "medium", "low", "informational"];

function stateOf(triage, id) { return (triage[id] && triage[id].state) || "open"; }

export const list = {
  async enter() {
    if (!list.wired) {
      list.wired = true;
      $("#alerts-form").addEventListener("submit", (e) => { e.preventDefault(); list.toUrl(); list.load(); });
      for (const id of ["#alerts-level", "#alerts-state", "#alerts-since"]) {
        $(id).addEventListener("change", () => { list.toUrl(); list.load(); });
      }
    }
    const p = new URLSearchParams(window.location.search);
    $("#alerts-q").value = p.get("q") || "";
    $("#alerts-level").value = p.get("level") || "";
    $("#alerts-state").value = p.get("state") || "";
    $("#alerts-since").value = p.has("since") ? p.get("since") : "24h";
    list.load();
  },
  toUrl() {
    const p = new URLSearchParams();
    for (const [k, id] of [["q", "#alerts-q"], ["level", "#alerts-level"], ["state", "#alerts-state"], ["since", "#alerts-since"]]) {
      p.set(k, $(id).value);
    }
    history.replaceState(null, "", `/alerts?${p}`);
  },
  async load() {
    const status = $("#alerts-status");
    status.textContent = "loading…";
    status.className = "";
    let q = $("#alerts-q").value.trim();
    const level = $("#alerts-level").value;
    if (level) q = q ? `(${q}) AND alert.level:${level}` : `alert.level:${level}`;
    try {
      const [res, triage] = await Promise.all([
        api("/api/alerts", { q, since: $("#alerts-since").value, limit: 500 }), api("/api/triage")]);
      const want = $("#alerts-state").value;
      const hits = res.hits.filter((a) => !want || stateOf(triage, get(a, "event.id")) === want);
      $("#alert-list tbody").replaceChildren(...hits.map((a) => {
        const id = get(a, "event.id");
        const group = Object.entries(get(a, "alert.group") || {}).map(([k, v]) => `${k}=${v}`).join(" ");
        const st = stateOf(triage, id);
        return el("tr", { class: "alert-row", "data-id": id, onclick: () => navigate(`/alerts/${encodeURIComponent(id)}`) },
          el("td", { class: "time" }, a["@timestamp"]),
          el("td", {}, el("span", { class: `level l-${get(a, "alert.level")}` }, get(a, "alert.level"))),
          el("td", {}, el("a", { href: `/alerts/${encodeURIComponent(id)}`, "data-nav": true }, get(a, "rule.name"))),
          el("td", { class: "group" }, group),
          el("td", {}, String(get(a, "alert.count") || 1) + (get(a, "alert.status") === "recovered" ? " (recovered)" : "")),
          el("td", {}, el("span", { class: `badge s-${st}` }, st)));
      }));
      status.textContent = `${hits.length} of ${res.total} alerts${want ? ` (${want})` : ""}`;
    } catch (e) {
      status.textContent = e.message;
      status.className = "error";
    }
  },
};

function dl(target, rows) {
  $(target).replaceChildren(...rows.filter(([, v]) => v !== "" && v != null && !(Array.isArray(v) && !v.length))
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v instanceof Node ? v : show(v))]));
}

export const detail = {
  id: null,
  async enter(id) {
    detail.id = id;
    if (!detail.wired) {
      detail.wired = true;
      $("#triage-form").addEventListener("submit", (e) => {
        e.preventDefault();
        detail.triage(e.submitter ? e.submitter.dataset.state : "acknowledged");
      });
    }
    $("#alert-title").textContent = "loading…";
    $("#triage-error").textContent = "";
    let body;
    try {
      body = await api(`/api/alerts/${encodeURIComponent(id)}`);
    } catch (e) {
      $("#alert-title").textContent = e.message;
      return;
    }
    detail.render(body);
  },
  render(body) {
    const a = body.alert;
    const rule = a.rule || {};
    const al = a.alert || {};
    $("#alert-title").textContent = rule.name || "(rule without a title)";
    $("#alert-level").textContent = al.level || "";
    $("#alert-level").className = `level l-${al.level}`;
    dl("#alert-rule", [["title", rule.name], ["level", al.level], ["author", rule.author], ["description", rule.description],
      ["tags", a.tags], ["id", rule.id], ["category", rule.category], ["references", rule.reference]]);
    const group = Object.entries(al.group || {}).map(([k, v]) => `${k}=${v}`).join(" ");
    const corr = al.correlation ? `${al.correlation.type || ""} over ${al.correlation.timespan || "?"}` +
      (al.correlation.value != null ? ` (value ${al.correlation.value})` : "") : "";
    dl("#alert-info", [["raised", a["@timestamp"]], ["first seen", al.first_seen], ["last seen", al.last_seen],
      ["events", al.count], ["correlation group", group], ["correlation", corr], ["host", get(a, "host.name")],
      ["source", get(a, "source.ip")], ["user", get(a, "user.name")], ["alert id", get(a, "event.id")]]);
    $("#alert-discover").setAttribute("href", `/?${new URLSearchParams({ q: al.query || "" })}`);
    detail.renderTriage(body.triage || []);
    const events = (body.events && body.events.hits.length) ? body.events.hits : (al.events || []);
    $("#alert-events-total").textContent = `(${body.events ? body.events.total : events.length})`;
    $("#alert-events tbody").replaceChildren(...events.map((h) => el("tr", {},
      el("td", { class: "time" }, h["@timestamp"]), el("td", {}, show(get(h, "host.name"))),
      el("td", { class: "raw" }, show(get(h, "event.original") || h.message)))));
  },
  renderTriage(history) {
    const st = history.length ? history[history.length - 1].state : "open";
    $("#alert-state").textContent = st;
    $("#alert-state").className = `badge s-${st}`;
    $("#triage-history").replaceChildren(...history.map((r) => el("li", { class: "triage" },
      el("b", {}, r.state), ` by ${r.user} at ${r.time}`, r.note ? el("div", { class: "note" }, r.note) : null)));
    if (!history.length) $("#triage-history").append(el("li", { class: "hint" }, "nobody has triaged this alert yet"));
    const admin = session.role === "admin";
    for (const id of ["#ack", "#close", "#reopen", "#triage-note"]) $(id).disabled = !admin;
    if (!admin) $("#triage-error").textContent = "viewers can read triage; an admin changes it";
  },
  async triage(state) {
    $("#triage-error").textContent = "";
    try {
      await post(`/api/alerts/${encodeURIComponent(detail.id)}/triage`, { state, note: $("#triage-note").value });
      $("#triage-note").value = "";
      const body = await api(`/api/alerts/${encodeURIComponent(detail.id)}`);
      detail.renderTriage(body.triage || []);
    } catch (e) {
      $("#triage-error").textContent = e.message;
    }
  },
};
