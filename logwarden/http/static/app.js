// The Logwarden web UI: one page, routed in the browser. Plain ES modules on purpose: no
// build step, nothing to download at install time; every file ships in the package.
//   /            Discover (the whole search state in the URL: q, since or from/to, cols, split, page)
//   /tail        Live tail (server-sent events), pause/resume
//   /alerts      Alerts by time, level, rule and triage state; /alerts/ID one alert
//   /rules       Loaded rules with alerts in the last 24 h and load errors; /rules/ID one rule
//   /pipeline    Stages, consumer lag, topics, dead letters (GET /api/status)
// Any 401 shows the login form in place; after the login the same URL opens.
import { $, api, navigate, post, session } from "./util.js";
import * as discover from "./discover.js";
import * as tail from "./tail.js";
import * as alerts from "./alerts.js";
import * as pipeline from "./pipeline.js";
import * as rules from "./rules.js";

const VIEWS = ["login", "discover", "tail", "alerts", "alert", "rules", "rule", "pipeline"];
const PARENT = { alert: "alerts", rule: "rules" };   // the nav entry a detail page belongs to
let current = null;

function showView(name) {
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === name || a.dataset.view === PARENT[name]);
  }
}

function route() {
  const path = window.location.pathname;
  if (current && current.leave) current.leave();
  current = null;
  if (!session.user) { showLogin(); return; }
  $("#nav").hidden = false;
  $("#who").hidden = false;
  let m;
  if (path === "/tail") { showView("tail"); current = tail; }
  else if (path === "/pipeline") { showView("pipeline"); current = pipeline; }
  else if ((m = path.match(/^\/alerts\/(.+)$/))) { showView("alert"); current = alerts.detail; current.enter(decodeURIComponent(m[1])); return; }
  else if (path === "/alerts") { showView("alerts"); current = alerts.list; }
  else if ((m = path.match(/^\/rules\/(.+)$/))) { showView("rule"); current = rules.detail; current.enter(decodeURIComponent(m[1])); return; }
  else if (path === "/rules") { showView("rules"); current = rules.list; }
  else { showView("discover"); current = discover; }
  current.enter();
}

function showLogin() {
  if (current && current.leave) current.leave();
  current = null;
  session.user = null;
  $("#nav").hidden = true;
  $("#who").hidden = true;
  showView("login");
  $("#password").focus();
}

function setSession(s) {
  session.user = s.user;
  session.role = s.role;
  session.csrf = s.csrf;
  $("#who-name").textContent = s.user;
  $("#who-role").textContent = s.role;
  document.body.dataset.role = s.role;
}

session.onUnauthorized = showLogin;

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const err = $("#login-error");
  err.textContent = "";
  try {
    setSession(await post("/api/login", { username: $("#username").value, password: $("#password").value }));
    $("#password").value = "";
    if (window.location.pathname === "/login") history.replaceState(null, "", "/");
    route();
  } catch (ex) {
    err.textContent = ex.message;
  }
});

$("#logout").addEventListener("click", async () => {
  try { await post("/api/logout", {}); } catch (e) { /* the session may have ended already */ }
  showLogin();
});

// links inside the page navigate without a reload
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);
window.addEventListener("lw:route", route);

(async () => {
  try {
    setSession(await api("/api/session"));
  } catch (e) {
    showLogin();
    return;
  }
  route();
})();
