"""Notifiers against a real local HTTP server and a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import json
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from aiosmtpd.controller import Controller
from jinja2.exceptions import SecurityError

from logwarden.rules.alerts import build_alert
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.config import NotifierConfig
from logwarden.rules.engine import Engine
from logwarden.rules.episodes import Episodes
from logwarden.rules.notify import Dispatcher, NotifyError, build, render
from lwtest import free_port

pytestmark = pytest.mark.integration

RULE = """title: Brute force
id: bf
level: high
author: Jane Doe
description: many failures
logsource: {product: linux, service: sshd}
correlation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 1m, condition: {gte: 2}}
---
title: f
name: f
logsource: {product: linux, service: sshd}
detection: {sel: {event.outcome: failure}, condition: sel}
"""


def make_alert() -> dict:
    eps = Episodes()
    eng = Engine(ruleset_from_text(RULE, mapping="none"), eps)
    hits = []
    for i in range(2):
        hits += eng.process({"@timestamp": f"2026-11-26T10:00:0{i}Z", "event": {"id": f"e{i}", "outcome": "failure"},
                             "message": f"Failed password for root from 203.0.113.5 port {i} ssh2",
                             "source": {"ip": "203.0.113.5"}, "host": {"name": "bastion"}})
    (hit,) = hits
    return build_alert(eps.observe(hit, hit.corr), 1_800_000_000.0, "http://ui:8080")


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        srv = self.server
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        srv.requests.append((self.path, dict(self.headers), body))
        status = srv.statuses.pop(0) if srv.statuses else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def http_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.requests, srv.statuses = [], []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


def url(srv, path="/hook") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_webhook_posts_the_alert_json_and_retries_5xx(http_server):
    http_server.statuses = [503, 502]
    n = build(NotifierConfig(type="webhook", url=url(http_server), retries=3, headers={"X-Token": "s3cret"}))
    alert = make_alert()
    n.send(alert)
    assert len(http_server.requests) == 3
    path, headers, body = http_server.requests[-1]
    assert path == "/hook" and headers["X-Token"] == "s3cret" and headers["content-type"] == "application/json"
    assert orjson.loads(body) == alert


def test_webhook_gives_up_and_does_not_retry_4xx(http_server):
    http_server.statuses = [400]
    n = build(NotifierConfig(type="webhook", url=url(http_server), retries=3))
    with pytest.raises(NotifyError, match="HTTP 400"):
        n.send(make_alert())
    assert len(http_server.requests) == 1
    http_server.statuses = [500, 500]
    n = build(NotifierConfig(type="webhook", url=url(http_server), retries=1))
    with pytest.raises(NotifyError, match="gave up after 2 attempts"):
        n.send(make_alert())


def test_webhook_retries_connection_errors():
    n = build(NotifierConfig(type="webhook", url=f"http://127.0.0.1:{free_port()}/x", retries=1, timeout_ms=500))
    with pytest.raises(NotifyError, match="gave up"):
        n.send(make_alert())


def test_slack_message_from_template(http_server):
    n = build(NotifierConfig(type="slack", url=url(http_server, "/services/T/B/X")))
    n.send(make_alert())
    _, _, body = http_server.requests[0]
    text = json.loads(body)["text"]
    assert "[HIGH] Brute force" in text and "source.ip=203.0.113.5" in text
    assert "Rule by Jane Doe" in text and "http://ui:8080/?q=" in text


def test_dispatcher_delivers_in_background_and_filters_by_level(http_server):
    low_only = NotifierConfig(type="webhook", url=url(http_server, "/all"), min_level="low")
    critical_only = NotifierConfig(type="webhook", url=url(http_server, "/crit"), min_level="critical")
    d = Dispatcher([build(low_only), build(critical_only)])
    d.submit(make_alert())
    assert d.flush(10)
    d.close()
    assert [p for p, _, _ in http_server.requests] == ["/all"]
    assert d.stats == {"sent": 1, "failed": 0, "dropped": 0}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield ctl, inbox
    ctl.stop()


def test_smtp_mail(smtp_server):
    ctl, inbox = smtp_server
    n = build(NotifierConfig(type="smtp", smtp_host="127.0.0.1", smtp_port=ctl.port,
                             mail_from="lw@example.org", mail_to=["soc@example.org", "oncall@example.org"]))
    alert = make_alert()
    n.send(alert)
    (sender, rcpts, content), = inbox.messages
    assert sender == "lw@example.org" and rcpts == ["soc@example.org", "oncall@example.org"]
    msg = message_from_bytes(content)
    assert msg["Subject"] == "[HIGH] Brute force from 203.0.113.5"
    assert msg["X-Logwarden-Alert-Id"] == alert["event"]["id"]
    body = msg.get_payload(decode=True).decode()
    assert "many failures" in body and "source.ip: 203.0.113.5" in body
    assert "Failed password for root from 203.0.113.5" in body and "by Jane Doe" in body


def test_file_notifier_with_template(tmp_path):
    p = tmp_path / "out" / "alerts.log"
    n = build(NotifierConfig(type="file", path=str(p), template="{{ alert.level }} {{ rule.name }} {{ alert.group | tojson }}"))
    n.send(make_alert())
    n.send(make_alert())
    assert p.read_text().splitlines() == ['high Brute force {"source.ip":"203.0.113.5"}'] * 2
    n = build(NotifierConfig(type="file", path=str(tmp_path / "raw.ndjson")))
    n.send(make_alert())
    assert orjson.loads((tmp_path / "raw.ndjson").read_text())["rule"]["id"] == "bf"


def test_templates_are_sandboxed():
    alert = make_alert()
    with pytest.raises(SecurityError):
        render("{{ rule.name.__class__.__mro__[1].__subclasses__() }}", alert)
    # attacker-controlled event text is data, never template code
    alert["alert"]["events"][0]["message"] = "{{ 7 * 7 }}"
    assert render("{{ alert.events[0].message }}", alert) == "{{ 7 * 7 }}"
