"""GeoIP enrichment through the whole appliance: `logwarden up` with parsers.geoip (MaxMind
files written by the test), access lines appended to a watched file, found by
`source.geo.country_iso_code:CN` in the API, and the Discover page showing the country code
and AS name beside the address (hit row, address column, expanded document)."""
from __future__ import annotations

import pytest

from e2e_harness import Appliance, wait_for
from geodb import write_databases
from test_ui import CHROMIUM, CHROMIUM_ARGS, login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LINE = '{ip} - - [01/Dec/2026:10:{m:02d}:00 +0000] "GET /geo/{m} HTTP/1.1" 200 512 "-" "curl/8.5.0"'


def test_discover_shows_country_and_as_beside_addresses(tmp_path):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    city, asn = write_databases(tmp_path / "geo")
    app = Appliance(tmp_path, config={"parsers": {"geoip": {"databases": [city, asn]}}})
    app.start()
    try:
        app.append([LINE.format(ip="81.2.69.160", m=1), LINE.format(ip="1.2.3.4", m=2), LINE.format(ip="10.0.0.3", m=3)])
        wait_for("the geo lines searchable", lambda: app.api("/api/search", q="url.path:/geo/*").get("total") == 3,
                 app, timeout=60)
        cn = app.api("/api/search", q="source.geo.country_iso_code:CN")
        assert [h["source"]["ip"] for h in cn["hits"]] == ["1.2.3.4"]
        assert app.api("/api/search", q="tags:_geoip_private AND url.path:/geo/*")["total"] == 1
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            login(page, f"{app.url}/?q=url.path:%22/geo/1%22&since=")
            page.wait_for_selector("#hits tbody tr.hit .badge.geo", timeout=15000)
            badge = page.locator("#hits tbody tr.hit .badge.geo").first
            assert badge.text_content() == "GB · Andrews & Arnold Ltd"
            assert badge.get_attribute("title") == "London, United Kingdom, AS20712"
            page.goto(f"{app.url}/?q=url.path:%22/geo/2%22&since=&cols=source.ip")
            page.wait_for_selector("#hits tbody tr.hit td .badge.geo", timeout=15000)
            assert page.locator("#hits tbody tr.hit td").nth(1).text_content() == "1.2.3.4 CN"
            page.locator("#hits tbody tr.hit").first.click()
            row = page.locator("tr.detail .fields-table tr", has=page.locator("th", has_text="source.ip"))
            assert row.locator(".badge.geo").text_content() == "CN"
            page.goto(f"{app.url}/?q=url.path:%22/geo/3%22&since=")
            page.wait_for_function("document.querySelector('#total').textContent === '(1)'", timeout=15000)
            assert page.locator("#hits .badge.geo").count() == 0  # a private address: nothing beside it
            browser.close()
    finally:
        app.stop()
