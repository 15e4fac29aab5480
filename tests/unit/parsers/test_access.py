"""nginx / Apache access lines: common, combined, vhost, escapes, malformed."""
from pathlib import Path

from logwarden.parsers.core import ParseFailure

DATA = Path(__file__).resolve().parents[2] / "data" / "logs"


def test_combined(parse):
    doc = parse('203.0.113.9 - alice [17/May/2015:10:05:03 +0200] "GET /a/b.png?x=1&y=2 HTTP/1.1" 404 512 "http://ref.example/" "curl/8.0"', "nginx")
    assert doc["@timestamp"] == "2015-05-17T08:05:03.000Z"
    assert doc["source"] == {"address": "203.0.113.9", "ip": "203.0.113.9"}
    assert doc["user"] == {"name": "alice"}
    assert doc["http"] == {"request": {"method": "GET", "referrer": "http://ref.example/"}, "version": "1.1",
                           "response": {"status_code": 404, "body": {"bytes": 512}}}
    assert doc["url"] == {"original": "/a/b.png?x=1&y=2", "path": "/a/b.png", "query": "x=1&y=2"}
    assert doc["user_agent"] == {"original": "curl/8.0"}
    ev = doc["event"]
    assert (ev["category"], ev["type"], ev["outcome"], ev["dataset"], ev["module"]) == (["web"], ["access"], "failure", "nginx.access", "nginx")


def test_common_and_dash_size(parse):
    doc = parse('::1 - - [17/May/2015:10:05:03 +0000] "HEAD / HTTP/1.0" 304 -', "apache")
    assert doc["source"]["ip"] == "::1"
    assert doc["http"]["response"] == {"status_code": 304}
    assert doc["event"]["outcome"] == "success" and doc["event"]["dataset"] == "apache.access"
    assert "user" not in doc and "user_agent" not in doc


def test_vhost_and_extra_fields(parse):
    doc = parse('shop.example.com:443 198.51.100.1 - - [17/May/2015:10:05:03 +0000] "POST /api HTTP/2.0" 201 17 "-" "Go-http-client/2.0"', "nginx")
    assert doc["destination"] == {"domain": "shop.example.com", "port": 443}
    assert doc["url"]["domain"] == "shop.example.com" and doc["url"]["path"] == "/api"
    assert doc["http"]["version"] == "2.0" and "referrer" not in doc["http"]["request"]
    doc = parse('198.51.100.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 0.005 "10.0.0.1"', "nginx")
    assert doc["nginx"]["access"]["extra"] == '0.005 "10.0.0.1"'


def test_escaped_quotes_and_bad_request(parse):
    doc = parse(r'198.51.100.1 - - [17/May/2015:10:05:03 +0000] "GET /q?a=\"b\" HTTP/1.1" 200 5 "-" "Mozilla \"quoted\""', "apache")
    assert doc["user_agent"]["original"] == r'Mozilla \"quoted\"'
    doc = parse('198.51.100.1 - - [17/May/2015:10:05:03 +0000] "\\x16\\x03\\x01" 400 150 "-" "-"', "nginx")
    assert doc["http"]["response"]["status_code"] == 400 and "request" not in doc["http"]
    assert doc["url"]["original"] == "\\x16\\x03\\x01"
    doc = parse('198.51.100.1 - - [17/May/2015:10:05:03 +0000] "-" 408 0 "-" "-"', "nginx")
    assert "url" not in doc and doc["event"]["outcome"] == "failure"


def test_malformed(parse):
    bad = [
        '198.51.100.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 2000 5',
        '198.51.100.1 - - [17/Mai/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5',
        '198.51.100.1 - - 17/May/2015:10:05:03 +0000 "GET / HTTP/1.1" 200 5',
        "",
        "hello world",
    ]
    for line in bad:
        r = parse(line, "nginx")
        assert isinstance(r, ParseFailure) and r.parser == "nginx", line


def test_real_apache_log_all_lines_parse(engine):
    """10,000 real combined lines: every one parses, fields typed, status/bytes match the text."""
    from parsers_testlib import envelope
    lines = (DATA / "samples" / "apache_combined_10k.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10_000
    statuses = {}
    for i, line in enumerate(lines):
        doc = engine.parse(envelope(line, fields={"log_format": "apache"}))
        assert isinstance(doc, dict), (i, line, doc)
        code = doc["http"]["response"]["status_code"]
        assert isinstance(code, int) and f'" {code} ' in line
        statuses[code] = statuses.get(code, 0) + 1
        assert doc["@timestamp"].startswith("2015-05-")
    assert statuses[200] > 9000 and statuses[404] > 100


def test_nginx_main_format_forwarded_for(parse):
    base = '10.0.0.2 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
    doc = parse(base + ' "203.0.113.7, 10.1.1.1"', "nginx")
    assert doc["source"] == {"address": "203.0.113.7", "ip": "203.0.113.7"}
    assert doc["nginx"]["access"]["remote_ip_list"] == ["203.0.113.7", "10.1.1.1", "10.0.0.2"]
    doc = parse(base + ' "-"', "nginx")
    assert doc["source"]["ip"] == "10.0.0.2" and "remote_ip_list" not in doc["nginx"]["access"]
    doc = parse(base + ' "192.168.1.5"', "nginx")  # only private hops: keep the peer
    assert doc["source"]["ip"] == "10.0.0.2" and doc["nginx"]["access"]["remote_ip_list"] == ["192.168.1.5", "10.0.0.2"]
