// The Logwarden web UI: a search box, an events-over-time chart, hits and alerts.
// Plain DOM code on purpose: no build step, nothing to download at install time.
"use strict";

const $ = (sel) => document.querySelector(sel);

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value == null ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
}

async function api(path, params) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== ""));
  const res = await fetch(`${path}?${qs}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function drawChart(buckets) {
  const svg = $("#chart");
  svg.replaceChildren();
  if (!buckets || !buckets.length) return;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const w = 600 / buckets.length;
  buckets.forEach((b, i) => {
    const h = (b.count / max) * 76;
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("x", i * w + 0.5);
    r.setAttribute("width", Math.max(1, w - 1));
    r.setAttribute("y", 80 - h);
    r.setAttribute("height", h);
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = `${b.time || b.key}: ${b.count}`;
    r.appendChild(t);
    svg.appendChild(r);
  });
}

async function search() {
  const q = $("#q").value;
  const since = $("#since").value;
  const status = $("#status");
  status.textContent = "searching…";
  status.className = "";
  try {
    const [res, alerts] = await Promise.all([
      api("/api/search", { q, since, limit: 200 }),
      api("/api/alerts", { since, limit: 50 }),
    ]);
    $("#total").textContent = `(${res.total})`;
    const tbody = $("#hits tbody");
    tbody.replaceChildren(...res.hits.map((h) => {
      const tr = document.createElement("tr");
      tr.append(text("td", h["@timestamp"]), text("td", get(h, "host.name")),
        text("td", get(h, "process.name") || get(h, "event.dataset") || [].concat(get(h, "event.category") || []).join(",")),
        text("td", h.message, "msg"));
      return tr;
    }));
    $("#alerts").replaceChildren(...alerts.hits.map((a) => {
      const li = document.createElement("li");
      const group = Object.entries(get(a, "alert.group") || {}).map(([k, v]) => `${k}=${v}`).join(" ");
      li.append(text("span", get(a, "alert.level"), "level"), text("div", get(a, "rule.name")),
        text("div", group, "group"),
        text("small", `${get(a, "alert.count") || 1} events, last ${get(a, "alert.last_seen") || a["@timestamp"]}` +
          (get(a, "alert.status") === "recovered" ? " (recovered)" : "")),
        text("div", `rule by ${get(a, "rule.author") || "unknown"}`, "author"));
      li.title = get(a, "rule.description") || "";
      li.addEventListener("click", () => { $("#q").value = get(a, "alert.query") || ""; toUrl(); search(); });
      return li;
    }));
    status.textContent = "";
    api("/api/histogram", { q, since: since || "24h", buckets: 60 }).then((h) => drawChart(h.buckets || h)).catch(() => {});
  } catch (err) {
    status.textContent = err.message;
    status.className = "error";
  }
}

// The page's own URL holds the search: alert links (alert.url, `/?q=event.id:"..."`) open
// on their events, and a search typed here is reflected in the address bar so it can be shared.
// A link with a query but no `since` searches all time: an alert's events may be older than
// the default hour.
function fromUrl() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("q") && !params.has("since")) return;
  $("#q").value = params.get("q") || "";
  const since = params.has("since") ? params.get("since") : "";
  const select = $("#since");
  if (![...select.options].some((o) => o.value === since)) select.append(new Option(since, since));
  select.value = since;
}

function toUrl() {
  const params = new URLSearchParams();
  params.set("q", $("#q").value);
  params.set("since", $("#since").value);
  history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

$("#search-form").addEventListener("submit", (e) => { e.preventDefault(); toUrl(); search(); });
fromUrl();
search();
