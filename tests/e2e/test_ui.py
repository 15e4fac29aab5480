"""The web UI in a real headless Chromium against a running appliance: a person types a
query, sees the matching events and the alert, and a bad query shows its error."""
from __future__ import annotations

import shutil

import pytest

from e2e_harness import NGINX, SSHD_FAIL, Appliance, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
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


def test_search_and_alerts_in_the_browser(app, page, tmp_path):
    app.start()
    app.append([NGINX[0].format(i=i) for i in range(3)] + [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)])
    wait_for("alert raised", lambda: app.api("/api/alerts").get("hits"), app, timeout=60)

    page.goto(app.url + "/")
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
