// The events-over-time histogram as SVG: bars (stacked by a field's top values when split),
// an axis with the range's ends, and drag-to-select that hands the chosen range to onZoom.
import { $, el } from "./util.js";

const W = 1000;
const H = 120;
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#9ca3af"];
let drag = null;

function svgEl(tag, attrs) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// [{key, count, interval_ms}] or {interval_ms, buckets, series: [{value, buckets}], other}
function normalise(h) {
  if (Array.isArray(h)) return { keys: h.map((b) => b.key), interval: h.length ? h[0].interval_ms : 0,
                                 series: [{ label: "events", counts: h.map((b) => b.count) }] };
  const keys = (h.buckets || []).map((b) => b.key);
  const series = (h.series || []).map((s) => ({ label: String(s.value), counts: s.buckets.map((b) => b.count) }));
  if (h.other && h.other.some((b) => b.count)) series.push({ label: "other", counts: h.other.map((b) => b.count) });
  return { keys, interval: h.interval_ms, series };
}

export function drawHistogram(h, onZoom) {
  const svg = $("#chart");
  svg.replaceChildren();
  $("#chart-axis").replaceChildren();
  $("#chart-legend").replaceChildren();
  if (!h) return;
  const { keys, interval, series } = normalise(h);
  if (!keys.length) return;
  const totals = keys.map((_, i) => series.reduce((n, s) => n + (s.counts[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const w = W / keys.length;
  keys.forEach((key, i) => {
    let y = H;
    series.forEach((s, j) => {
      const c = s.counts[i] || 0;
      if (!c) return;
      const hgt = (c / max) * (H - 4);
      y -= hgt;
      const r = svgEl("rect", { x: i * w + 0.5, width: Math.max(1, w - 1), y, height: hgt, fill: COLORS[j % COLORS.length], class: "bar" });
      const t = svgEl("title", {});
      t.textContent = `${new Date(key).toISOString()}  ${s.label}: ${c}`;
      r.appendChild(t);
      svg.appendChild(r);
    });
  });
  const t0 = keys[0];
  const t1 = keys[keys.length - 1] + interval;
  svg.dataset.from = String(t0);
  svg.dataset.to = String(t1);
  $("#chart-axis").append(el("span", {}, new Date(t0).toISOString()), el("span", {}, `${totals.reduce((a, b) => a + b, 0)} events, ${interval / 1000} s buckets`),
                          el("span", {}, new Date(t1).toISOString()));
  if (series.length > 1) {
    $("#chart-legend").append(...series.map((s, j) => el("span", { class: "key" },
      el("i", { style: `background:${COLORS[j % COLORS.length]}` }), s.label)));
  }
  svg.onmousedown = (e) => {
    e.preventDefault();
    const box = svg.getBoundingClientRect();
    drag = { box, x0: e.clientX, sel: svgEl("rect", { class: "selection", y: 0, height: H, x: 0, width: 0 }) };
    svg.appendChild(drag.sel);
  };
  const toX = (clientX) => Math.min(W, Math.max(0, ((clientX - drag.box.left) / drag.box.width) * W));
  window.onmousemove = (e) => {
    if (!drag) return;
    const a = toX(drag.x0);
    const b = toX(e.clientX);
    drag.sel.setAttribute("x", Math.min(a, b));
    drag.sel.setAttribute("width", Math.abs(b - a));
  };
  window.onmouseup = (e) => {
    if (!drag) return;
    const a = toX(drag.x0);
    const b = toX(e.clientX);
    drag = null;
    if (Math.abs(b - a) < 4) { svg.querySelector(".selection")?.remove(); return; }
    const at = (x) => Math.round(t0 + (x / W) * (t1 - t0));
    onZoom(at(Math.min(a, b)), at(Math.max(a, b)));
  };
}
