"""The analyst's pages in a real headless Chromium against one running `logwarden up`: refused
without a session, the error column of a bad query, zoom by dragging across the histogram,
filtering by a value from the field sidebar, an expanded event, an alert acknowledged and
still acknowledged after a reload, the rules with their alert counts and a broken file's
file:line, a rule's own YAML and its alert, lag, a dead letter and topic retention on the
pipeline page, live tail receiving a new line.

Screenshots of each page go to $LOGWARDEN_SCREENSHOTS when set (docs/screenshots is made so),
else to the test's temporary folder."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from e2e_harness import SSHD_FAIL, Appliance, wait_for
from test_ui import CHROMIUM, CHROMIUM_ARGS, login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# one line a minute from 10:00 to 10:59 on 1 Dec 2026: even minutes 200, odd minutes 404
ZOOM = '198.51.100.{h} - - [01/Dec/2026:10:{m:02d}:00 +0000] "GET /zoom/{m} HTTP/1.1" {status} 512 "-" "curl/8.5.0"'
ZOOM_Q = "url.path:/zoom/*"
BRUTE_ID = "5d2c8a7e-3f61-4c1b-9a0e-6f4b2d7c9e11"   # the bundled SSH brute-force correlation
# a rule file the stage cannot load (line 7: the level): the rules page names its file and line
BROKEN_RULE = """title: Broken on purpose
id: 0badc0de-0000-4000-8000-000000000000
logsource: {product: linux}
detection:
  selection: {process.name: nothing-runs-this}
  condition: selection
level: severe
"""
NOT_AN_ENVELOPE = b"{this is not json, so the parsers dead-letter it"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("LOGWARDEN_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "rules").mkdir()
    (tmp / "rules" / "broken.yml").write_text(BROKEN_RULE)
    app = Appliance(tmp, config={"rules": {"paths": [str(tmp / "rules")]}})
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


def _brute_matches(ui) -> int | None:
    rules = {r["id"]: r for r in ui.api("/api/rules").get("rules", [])}
    return (rules.get(BRUTE_ID) or {}).get("matches_24h") or None


def test_rules_api_needs_credentials_and_a_viewer_may_read_it(ui):
    from logwarden.auth.store import Tokens

    assert httpx.get(ui.url + "/api/rules", timeout=30).status_code == 401
    assert httpx.get(ui.url + f"/api/rules/{BRUTE_ID}", timeout=30).status_code == 401
    _, token = Tokens(ui.data).create("viewer", "rules page test")
    h = {"Authorization": f"Bearer {token}"}
    r = httpx.get(ui.url + "/api/rules", headers=h, timeout=30)
    assert r.status_code == 200 and BRUTE_ID in {x["id"] for x in r.json()["rules"]}
    assert httpx.get(ui.url + f"/api/rules/{BRUTE_ID}", headers=h, timeout=30).json()["rule"]["kind"] == "correlation"
    assert httpx.get(ui.url + "/api/rules/no-such-rule", headers=h, timeout=30).status_code == 404


def test_rules_page_lists_rules_with_alert_counts_and_load_errors(page, ui, shots):
    n = wait_for("the brute-force alert counted for its rule", lambda: _brute_matches(ui), ui, timeout=60)
    page.goto(ui.url + "/rules")
    row = page.locator(f'#rule-list tbody tr[data-id="{BRUTE_ID}"]')
    row.wait_for(timeout=15000)
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "SSH brute force from one source address" and cells[1:3] == ["high", "correlation"]
    assert "attack.t1110.001" in cells[3] and cells[4] == "stable" and cells[5] == str(n)
    assert cells[6].endswith("ssh_bruteforce.yml:5")
    broken = str(ui.tmp / "rules" / "broken.yml")
    errors = page.locator("#rule-errors li").all_text_contents()
    assert len(errors) == 1 and errors[0].startswith(f"{broken}:7: ") and "level 'severe'" in errors[0]
    assert "1 load error" in page.text_content("#rules-status")
    page.click("#rule-list th[data-sort=matches]")    # the rule with the most alerts first
    assert page.locator("#rule-list tbody tr").first.get_attribute("data-id") == BRUTE_ID
    assert parse_qs(urlsplit(page.url).query)["sort"] == ["matches"]
    page.screenshot(path=str(shots / "rules.png"))
    page.fill("#rules-filter", "t1110 high")
    page.wait_for_function("document.querySelectorAll('#rule-list tbody tr').length === 1", timeout=5000)
    assert page.locator("#rule-list tbody tr").first.get_attribute("data-id") == BRUTE_ID


def test_a_rule_page_shows_its_yaml_and_its_alerts(page, ui, shots):
    page.goto(ui.url + "/rules")
    page.locator(f'#rule-list tbody tr[data-id="{BRUTE_ID}"] a').click()
    page.wait_for_selector("#view-rule:not([hidden])", timeout=15000)
    page.wait_for_function("document.querySelector('#rule-title').textContent === 'SSH brute force from one source address'",
                           timeout=15000)
    assert page.url.endswith(f"/rules/{BRUTE_ID}")
    yaml_text = page.text_content("#rule-yaml")   # only this document of the two-document file
    assert yaml_text.startswith("title: SSH brute force") and "timespan: 1m" in yaml_text and yaml_text.endswith("level: high")
    assert "SSH failed authentication" not in yaml_text
    assert "Logwarden project" in page.text_content("#rule-meta") and "attack.t1110.001" in page.text_content("#rule-meta")
    link = page.locator("#rule-alerts tbody a.alert-link").first
    link.wait_for(timeout=15000)
    page.screenshot(path=str(shots / "rule.png"))
    discover = page.locator("#rule-alerts tbody a.discover-link").first.get_attribute("href")
    link.click()
    page.wait_for_selector("#view-alert:not([hidden])", timeout=15000)
    page.wait_for_function("document.querySelector('#alert-title').textContent.startsWith('SSH brute force')", timeout=15000)
    page.goto(ui.url + discover)     # the alert's events in Discover
    page.wait_for_function("document.querySelector('#total').textContent !== ''", timeout=15000)
    assert page.input_value("#q").startswith("event.id:") and _total(page) >= 5
    assert "Failed password for invalid user admin" in page.text_content("#hits tbody")


def test_pipeline_shows_a_dead_letter_and_topic_retention(page, ui, shots):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": f"127.0.0.1:{ui.broker_port}"})
    p.produce("logs.raw", NOT_AN_ENVELOPE)
    assert p.flush(30) == 0
    page.goto(ui.url + "/pipeline")
    letter = page.locator("#dlq-recent li.dead-letter", has_text="this is not json")
    letter.first.wait_for(timeout=60000)   # the page asks /api/status every 2 s
    assert letter.first.locator(".dlq-type").text_content() == "envelope"
    assert "not valid JSON" in letter.first.locator(".dlq-reason").text_content()
    assert letter.first.locator(".dlq-sample").text_content() == NOT_AN_ENVELOPE.decode()
    ecs = page.locator('#topics tbody tr[data-topic="logs.ecs"]')
    assert ecs.locator("td.retention").text_content() == "7 d"   # the built-in broker's default, from DescribeConfigs
    assert re.fullmatch(r"[0-9.]+ (B|KiB|MiB)", ecs.locator("td.size").text_content())
    assert page.locator('#topics tbody tr[data-topic="rules.state"] td.retention').text_content().startswith("compact")


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
