"""The web UI in a real headless Chromium against a running appliance: a person logs in,
types a query, sees the matching events and the alert, and a bad query shows its error.
More of the UI (zoom, sidebar, expand, triage, pipeline, live tail, refusals): test_ui_pages.py."""
from __future__ import annotations

import shutil

import pytest

from e2e_harness import ADMIN_PASSWORD, NGINX, SSHD_FAIL, Appliance, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path)
    yield a
    a.stop()


@pytest.fixture
def page():
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page()
        yield pg
        browser.close()


def login(page, url: str) -> None:
    """Open `url`, which shows the login form first, and log in as the harness's admin."""
    page.goto(url)
    page.wait_for_selector("#login-form", state="visible", timeout=15000)
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav", state="visible", timeout=15000)


def test_search_and_alerts_in_the_browser(app, page, tmp_path):
    app.start()
    app.append([NGINX[0].format(i=i) for i in range(3)] + [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)])
    wait_for("alert raised", lambda: app.api("/api/alerts").get("hits"), app, timeout=60)

    login(page, app.url + "/")
    page.fill("#q", "process.name:sshd AND event.outcome:failure")
    page.select_option("#since", "")
    page.click("button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#hits tbody tr').length === 8", timeout=15000)
    assert "Failed password for invalid user admin" in page.text_content("#hits tbody")
    assert page.text_content("#total") == "(8)"
    page.wait_for_selector("#alerts li", timeout=15000)
    assert page.locator("#alerts li").count() >= 1
    page.screenshot(path=str(tmp_path / "ui.png"))

    page.fill("#q", "process.name:(sshd")
    page.click("button[type=submit]")
    page.wait_for_selector("#status.error", timeout=15000)
    assert "bad query" in page.text_content("#status")


def test_an_alert_link_opens_on_its_events(app, page):
    """alert.url (`/?q=event.id:"..." OR ...`, what the Slack and e-mail templates link to) opens
    the page with that query in the box and only the alert's events listed - across all time,
    since an alert's events may be older than the default hour (these are dated 26 Nov)."""
    from urllib.parse import urlsplit

    app.start()
    app.append([NGINX[0].format(i=i) for i in range(3)] + [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)])
    alerts = wait_for("alert raised", lambda: app.api("/api/alerts").get("hits"), app, timeout=60)
    alert = alerts[0]["alert"]
    link = urlsplit(alert["url"])
    assert f"{link.scheme}://{link.netloc}" == app.url  # rules.base_url unset: the UI this appliance serves
    assert link.path == "/" and link.query.startswith("q=event.id")
    # A link opened without a session shows the login, then the link's own view.
    login(page, alert["url"])
    page.wait_for_function(f"document.querySelectorAll('#hits tbody tr').length === {len(alert['event_ids'])}", timeout=15000)
    assert page.input_value("#q") == alert["query"]
    assert page.input_value("#since") == ""
    assert page.text_content("#total") == f"({len(alert['event_ids'])})"
    assert "Failed password for invalid user admin" in page.text_content("#hits tbody")
    assert "GET /index.html" not in page.text_content("#hits tbody")

    # since= in the link is honoured too, and a search typed on the page goes into the URL
    page.goto(f"{app.url}/?q=process.name:nginx&since=15m")
    page.wait_for_selector("#status:empty", state="attached", timeout=15000)
    assert page.input_value("#q") == "process.name:nginx" and page.input_value("#since") == "15m"
    page.fill("#q", "process.name:sshd")
    page.select_option("#since", "")
    page.click("button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#hits tbody tr').length === 8", timeout=15000)
    assert "q=process.name%3Asshd" in page.url and "since=" in page.url
