"""The analyst's pages in a real headless Chromium against one running `logwarden up`: refused
without a session, the error column of a bad query, zoom by dragging across the histogram,
filtering by a value from the field sidebar, an expanded event, an alert acknowledged and
still acknowledged after a reload, lag on the pipeline page, live tail receiving a new line.

Screenshots of each page go to $LOGWARDEN_SCREENSHOTS when set (docs/screenshots is made so),
else to the test's temporary folder."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from e2e_harness import SSHD_FAIL, Appliance, wait_for
from test_ui import CHROMIUM, CHROMIUM_ARGS, login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# one line a minute from 10:00 to 10:59 on 1 Dec 2026: even minutes 200, odd minutes 404
ZOOM = '198.51.100.{h} - - [01/Dec/2026:10:{m:02d}:00 +0000] "GET /zoom/{m} HTTP/1.1" {status} 512 "-" "curl/8.5.0"'
ZOOM_Q = "url.path:/zoom/*"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("LOGWARDEN_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    app = Appliance(tmp_path_factory.mktemp("ui"))
    app.start()
    app.append([ZOOM.format(h=m % 7 + 1, m=m, status=200 if m % 2 == 0 else 404) for m in range(60)]
               + [SSHD_FAIL.format(s=s, port=51000 + s) for s in range(8)])
    wait_for("the zoom lines searchable", lambda: app.api("/api/search", q=ZOOM_Q).get("total") == 60, app, timeout=60)
    wait_for("an alert raised", lambda: app.api("/api/alerts").get("hits"), app, timeout=60)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, ui):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    login(pg, ui.url + "/")
    yield pg
    ctx.close()


def _discover(page, ui, q: str, **params: str) -> None:
    from urllib.parse import urlencode

    page.goto(f"{ui.url}/?{urlencode({'q': q, 'since': '', **params})}")
    page.wait_for_selector("#status:empty", state="attached", timeout=15000)
    page.wait_for_function("document.querySelector('#total').textContent !== ''", timeout=15000)


def _total(page) -> int:
    return int(page.text_content("#total").strip("()"))


def test_refused_without_a_session(browser, ui):
    ctx = browser.new_context()
    pg = ctx.new_page()
    try:
        resp = pg.goto(ui.url + "/api/search?q=*")
        assert resp.status == 401 and "authentication required" in pg.text_content("body")
        pg.goto(ui.url + "/?q=" + ZOOM_Q)
        pg.wait_for_selector("#login-form", state="visible", timeout=15000)
        assert pg.is_hidden("#view-discover") and pg.locator("#hits tbody tr").count() == 0
        pg.fill("#password", "not the password")
        pg.click("#login-form button[type=submit]")
        pg.wait_for_function("document.querySelector('#login-error').textContent !== ''", timeout=15000)
        assert pg.text_content("#login-error") == "wrong user name or password"
        assert pg.is_hidden("#nav")
        assert not [c for c in ctx.cookies() if c["name"] == "lw_session"]
    finally:
        ctx.close()


def test_session_cookie_is_httponly_and_strict(page, ui):
    [cookie] = [c for c in page.context.cookies() if c["name"] == "lw_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert page.evaluate("document.cookie") == ""   # scripts cannot read it


def test_bad_query_shows_its_column(page, ui, shots):
    _discover(page, ui, ZOOM_Q)
    page.fill("#q", "process.name:(sshd")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#q-error:not([hidden])", timeout=15000)
    assert "bad query" in page.text_content("#status") and "unclosed '('" in page.text_content("#status")
    query_line, caret_line = page.text_content("#q-error").split("\n")
    assert query_line == "process.name:(sshd"
    assert caret_line.index("^") == 13 and page.get_attribute("#q-error", "data-column") == "14"
    assert page.evaluate("document.querySelector('#q').selectionStart") == 13
    page.screenshot(path=str(shots / "discover-query-error.png"))


def test_histogram_drag_zooms(page, ui, shots):
    _discover(page, ui, ZOOM_Q)
    assert _total(page) == 60
    page.wait_for_selector("#chart rect.bar", timeout=15000)
    page.screenshot(path=str(shots / "discover.png"))
    box = page.locator("#chart").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    page.wait_for_function("new URLSearchParams(location.search).has('from')", timeout=15000)
    page.wait_for_function(f"document.querySelector('#total').textContent !== '(60)'", timeout=15000)
    params = parse_qs(urlsplit(page.url).query)
    start, end = params["from"][0], params["to"][0]
    assert page.input_value("#since") == "custom" and page.input_value("#from") == start
    n = _total(page)
    assert 20 <= n <= 40, n   # about the first half of the hour
    times = page.locator("#hits tbody tr.hit td.time").all_text_contents()
    assert len(times) == n and all(start <= t <= end for t in times), (start, end, times[:3])
    page.go_back()   # the zoom is a step in the history, like any search
    page.wait_for_function("document.querySelector('#total').textContent === '(60)'", timeout=15000)


def test_histogram_stacks_by_a_field(page, ui, shots):
    _discover(page, ui, ZOOM_Q)
    page.wait_for_selector("#split option[value='http.request.method']", state="attached", timeout=15000)
    page.select_option("#split", "http.response.status_code")
    page.wait_for_selector("#chart-legend .key", timeout=15000)
    assert page.locator("#chart-legend .key").all_text_contents() == ["200", "404"]
    fills = set(page.eval_on_selector_all("#chart rect.bar", "rs => rs.map(r => r.getAttribute('fill'))"))
    assert len(fills) == 2 and page.locator("#chart rect.bar").count() == 60
    assert parse_qs(urlsplit(page.url).query)["split"] == ["http.response.status_code"]
    page.screenshot(path=str(shots / "discover-stacked.png"))


def test_filter_by_a_value_from_the_sidebar(page, ui, shots):
    _discover(page, ui, ZOOM_Q)
    field = page.locator('#fields li[data-field="http.response.status_code"]')
    field.wait_for(timeout=15000)
    field.locator(".fname").click()
    value = field.locator("li.value", has_text="404")
    value.wait_for(timeout=15000)
    page.screenshot(path=str(shots / "discover-sidebar.png"))
    value.locator("button.in").click()
    page.wait_for_function("document.querySelector('#total').textContent === '(30)'", timeout=15000)
    assert page.input_value("#q") == f"({ZOOM_Q}) AND http.response.status_code:404"
    assert parse_qs(urlsplit(page.url).query)["q"] == [f"({ZOOM_Q}) AND http.response.status_code:404"]
    assert all(" 404 " in m for m in page.locator("#hits tbody td.msg").all_text_contents())
    # and out: the other half
    _discover(page, ui, ZOOM_Q)
    field = page.locator('#fields li[data-field="http.response.status_code"]')
    field.locator(".fname").click()
    field.locator("li.value", has_text="404").locator("button.out").click()
    page.wait_for_function("document.querySelector('#total').textContent === '(30)'", timeout=15000)
    assert page.input_value("#q") == f"({ZOOM_Q}) AND NOT http.response.status_code:404"
    assert all(" 200 " in m for m in page.locator("#hits tbody td.msg").all_text_contents())


def test_expand_an_event_to_its_document(page, ui, shots):
    _discover(page, ui, ZOOM_Q, cols="url.path,http.response.status_code")
    assert page.locator("#hits thead th").all_text_contents()[1:] == ["url.path×", "http.response.status_code×"]
    first = page.locator("#hits tbody tr.hit").first
    assert first.locator("td").nth(1).text_content() == "/zoom/59"
    first.click()
    detail = page.locator("#hits tbody tr.detail")
    detail.wait_for(timeout=5000)
    doc = json.loads(detail.locator("pre.json").text_content())
    assert doc["url"]["path"] == "/zoom/59" and doc["http"]["response"]["status_code"] == 404
    assert doc["event"]["original"].startswith("198.51.100.")
    rows = dict(zip(detail.locator(".fields-table th").all_text_contents(),
                    detail.locator(".fields-table td:nth-child(2)").all_text_contents()))
    assert rows["url.path"] == "/zoom/59" and rows["event.id"] == doc["event"]["id"]
    page.screenshot(path=str(shots / "discover-event.png"))
    detail.locator("button.copy").click()
    page.wait_for_function("document.querySelector('button.copy').textContent === 'copied'", timeout=5000)
    first.click()   # and closed again
    assert page.locator("#hits tbody tr.detail").count() == 0


def test_open_an_alert_and_acknowledge_it(page, ui, shots):
    page.goto(ui.url + "/alerts?since=")
    row = page.locator("#alert-list tbody tr", has_text="SSH brute force")
    row.first.wait_for(timeout=15000)
    assert row.first.locator(".badge").text_content() == "open"
    page.screenshot(path=str(shots / "alerts.png"))
    row.first.click()
    page.wait_for_selector("#view-alert:not([hidden])", timeout=15000)
    page.wait_for_function("document.querySelector('#alert-title').textContent.startsWith('SSH brute force')", timeout=15000)
    alert_url = page.url
    assert re.search(r"/alerts/[0-9a-f]+$", alert_url)
    assert "source.ip=203.0.113.5" in page.text_content("#alert-info")
    assert page.text_content("#alert-state") == "open"
    raw = page.locator("#alert-events tbody td.raw").all_text_contents()
    assert len(raw) >= 5 and all("Failed password for invalid user admin from 203.0.113.5" in r for r in raw)
    page.fill("#triage-note", "blocked 203.0.113.5 at the firewall")
    page.click("#ack")
    page.wait_for_function("document.querySelector('#alert-state').textContent === 'acknowledged'", timeout=15000)
    page.reload()
    page.wait_for_function("document.querySelector('#alert-state').textContent === 'acknowledged'", timeout=15000)
    history = page.text_content("#triage-history")
    assert "acknowledged by admin at 20" in history and "blocked 203.0.113.5 at the firewall" in history
    page.screenshot(path=str(shots / "alert.png"))
    page.click("a[href='/alerts']")
    page.wait_for_function("[...document.querySelectorAll('#alert-list .badge')].some(b => b.textContent === 'acknowledged')",
                           timeout=15000)
    page.select_option("#alerts-state", "open")
    page.wait_for_function("document.querySelector('#alerts-status').textContent.includes('(open)')", timeout=15000)
    assert "acknowledged" not in page.text_content("#alert-list tbody")


def test_pipeline_shows_lag(page, ui, shots):
    page.goto(ui.url + "/pipeline")
    page.wait_for_selector('#stages tbody tr[data-stage="index"]', timeout=15000)
    lag = page.locator('#stages tbody tr[data-stage="index"] td.lag')
    wait_for("a lag number for the index stage", lambda: re.fullmatch(r"[0-9,]+", lag.text_content()), ui, timeout=30)
    groups = page.locator("#lag tbody tr td:first-child").all_text_contents()
    assert "logwarden-index" in groups and "logwarden-parsers" in groups
    assert "logs.raw" in page.text_content("#topics tbody")
    page.screenshot(path=str(shots / "pipeline.png"))


def test_live_tail_receives_a_new_line(page, ui, shots):
    page.goto(ui.url + "/tail?q=url.path:/tail/*")
    page.wait_for_function("document.querySelector('#tail-state').textContent === 'live'", timeout=15000)
    ui.append(['198.51.100.9 - - [07/Dec/2026:12:00:00 +0000] "GET /tail/first HTTP/1.1" 200 5 "-" "curl/8.5.0"'])
    page.wait_for_selector("#tail-rows tbody tr:has-text('/tail/first')", timeout=30000)
    page.click("#tail-pause")
    assert page.text_content("#tail-pause") == "Resume"
    ui.append(['198.51.100.9 - - [07/Dec/2026:12:00:01 +0000] "GET /tail/second HTTP/1.1" 200 5 "-" "curl/8.5.0"'])
    page.wait_for_function("document.querySelector('#tail-state').textContent.startsWith('paused (1')", timeout=30000)
    assert page.locator("#tail-rows tbody tr").count() == 1    # held back while paused
    page.click("#tail-pause")
    page.wait_for_selector("#tail-rows tbody tr:has-text('/tail/second')", timeout=5000)
    assert page.locator("#tail-rows tbody tr").count() == 2
    page.screenshot(path=str(shots / "tail.png"))


def test_logout_ends_the_session(browser, ui):
    ctx = browser.new_context()
    pg = ctx.new_page()
    try:
        login(pg, ui.url + "/pipeline")
        pg.wait_for_selector("#view-pipeline:not([hidden])", timeout=15000)
        pg.click("#logout")
        pg.wait_for_selector("#login-form", state="visible", timeout=15000)
        assert pg.goto(ui.url + "/api/status").status == 401
    finally:
        ctx.close()
