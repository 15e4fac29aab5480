// Live tail: GET /api/tail as server-sent events (EventSource sends the session cookie and
// resumes with Last-Event-ID by itself). Pause keeps the stream and holds new rows back;
// resume shows them. At most MAX rows stay on screen.
import { $, el, get, show, sourceOf } from "./util.js";

const MAX = 500;
let source = null;
let paused = false;
let held = [];
let count = 0;

function row(h) {
  return el("tr", {}, el("td", { class: "time" }, h["@timestamp"]), el("td", {}, show(get(h, "host.name"))),
    el("td", {}, sourceOf(h)), el("td", { class: "msg" }, show(h.message)));
}

function add(rows) {
  const tbody = $("#tail-rows tbody");
  for (const h of rows) tbody.prepend(row(h));
  while (tbody.children.length > MAX) tbody.lastElementChild.remove();
}

function setState(text) { $("#tail-state").textContent = text; }

function start() {
  stop();
  const q = $("#tail-q").value;
  history.replaceState(null, "", q ? `/tail?q=${encodeURIComponent(q)}` : "/tail");
  $("#tail-rows tbody").replaceChildren();
  count = 0; held = []; paused = false;
  $("#tail-pause").textContent = "Pause";
  source = new EventSource(`/api/tail?${new URLSearchParams({ q })}`);
  setState("connecting");
  source.onopen = () => setState("live");
  source.addEventListener("hit", (e) => {
    const h = JSON.parse(e.data);
    count += 1;
    $("#tail-count").textContent = `${count} events`;
    if (paused) { held.push(h); setState(`paused (${held.length} waiting)`); } else add([h]);
  });
  source.addEventListener("error", (e) => {
    if (e.data) setState(`error: ${e.data}`);   // the backend failed: the stream goes on
    else if (source.readyState === EventSource.CONNECTING) setState("reconnecting");
    else if (source.readyState === EventSource.CLOSED) setState("closed (refused: log in again or check the query)");
  });
}

function stop() {
  if (source) source.close();
  source = null;
}

let wired = false;
export function enter() {
  if (!wired) {
    wired = true;
    $("#tail-form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
    $("#tail-pause").addEventListener("click", () => {
      paused = !paused;
      $("#tail-pause").textContent = paused ? "Resume" : "Pause";
      if (!paused) { add(held); held = []; setState("live"); } else setState("paused");
    });
  }
  $("#tail-q").value = new URLSearchParams(window.location.search).get("q") || "";
  start();
}

export function leave() { stop(); }
