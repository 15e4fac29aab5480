// Small helpers shared by the views: DOM building, dotted-path reads, the API client.
// The API client sends the session's CSRF token on every state change and turns a 401
// into the login view (app.js registers onUnauthorized).
export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = String(v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function get(obj, path) {
  if (obj && Object.prototype.hasOwnProperty.call(obj, path)) return obj[path];
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
}

// What produced the event, for the "source" column.
export function sourceOf(h) {
  return get(h, "process.name") || get(h, "event.dataset") || show(get(h, "event.category"));
}

// The enrichment beside an address (parsers.geoip writes source.geo / source.as next to
// source.ip): a badge "GB · Andrews & Arnold Ltd", with the country, city and AS number as its
// title; null when the event has neither. `ipPath` is source.ip, destination.ip, client.ip...
export function geoBadge(doc, ipPath) {
  const parent = ipPath.endsWith(".ip") ? ipPath.slice(0, -3) : null;
  if (!parent) return null;
  const cc = get(doc, `${parent}.geo.country_iso_code`);
  const org = get(doc, `${parent}.as.organization.name`);
  if (cc == null && org == null) return null;
  const asn = get(doc, `${parent}.as.number`);
  const title = [get(doc, `${parent}.geo.city_name`), get(doc, `${parent}.geo.country_name`), asn != null ? `AS${asn}` : null]
    .filter((x) => x != null).join(", ");
  return el("span", { class: "badge geo", title: title || null }, [cc, org].filter((x) => x != null).join(" · "));
}

export function show(v) {
  if (v == null) return "";
  if (Array.isArray(v)) return v.map(show).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// Flatten an ECS document into [dotted key, value] rows, arrays kept whole.
export function flatten(doc, prefix = "", out = []) {
  for (const [k, v] of Object.entries(doc || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, v]);
  }
  return out;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.position = body ? body.position : undefined;
  }
}

export const session = { csrf: null, user: null, role: null, onUnauthorized: () => {} };

export async function api(path, params = {}, init = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  if (init.method && init.method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (session.csrf) headers["X-CSRF-Token"] = session.csrf;
  }
  const res = await fetch(qs.toString() ? `${path}?${qs}` : path, { ...init, headers, credentials: "same-origin" });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401 && path !== "/api/login") session.onUnauthorized();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

export const post = (path, body) => api(path, {}, { method: "POST", body: JSON.stringify(body) });

// Value in the query language: numbers and booleans bare, everything else quoted.
export function literal(v) {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `"${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export function fmtNum(v, rate = false) {
  if (v == null) return "-";
  if (rate) return v === 0 ? "0" : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en");
  return Math.round(v).toLocaleString("en");
}

export function fmtBytes(v) {
  if (v == null) return "-";
  let n = Number(v);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (n < 1024 || unit === "TiB") return unit === "B" ? `${n} B` : `${n.toFixed(1)} ${unit}`;
    n /= 1024;
  }
  return `${n} B`;
}

export function navigate(url) {
  history.pushState(null, "", url);
  window.dispatchEvent(new Event("lw:route"));
}
