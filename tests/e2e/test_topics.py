"""Every topic renamed in logwarden.yml: the stages still meet on the new names.

Regression: `parsers.output_topic` could be set, but the index, rules and metrics stages
read the `logs.ecs`, `alerts` and `logs.dlq` constants, so renaming a topic silently
disconnected them (the line was parsed, and never searchable nor alerted on). Topic names
now live in one place, the `topics:` section, which every stage reads.
"""
from __future__ import annotations

import httpx
import pytest
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from e2e_harness import SSHD_FAIL, Appliance, wait_for

pytestmark = [pytest.mark.e2e]

RENAMED = {"raw": "acme.lines", "ecs": "acme.events", "dlq": "acme.dead", "alerts": "acme.alerts",
           "rules_state": "acme.rules-state", "metrics": "acme.metrics"}
DEFAULTS = {"logs.raw", "logs.ecs", "logs.dlq", "alerts", "rules.state", "metrics"}
# A metrics feed, so that its samples need a topic (topics.metrics)
FEEDS = {"sample_interval_ms": 1000, "feeds": [{"name": "topics_sshd", "query": "process.name:sshd"}]}


@pytest.fixture
def app(tmp_path):
    cfg = tmp_path / "logwarden.yml"
    cfg.write_text(yaml.safe_dump({"topics": RENAMED, "metrics": FEEDS}))
    a = Appliance(tmp_path, config=cfg)
    yield a
    a.stop()


def test_renamed_topics_still_reach_the_index_the_rules_and_the_metrics(app):
    app.start()
    wait_for("HTTP API up", lambda: app.api("/health"), app, timeout=60)
    sshd = [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)]
    app.append(sshd)

    wait_for("the sshd lines searchable", lambda: app.api("/api/search", q="process.name:sshd").get("total") == len(sshd), app)
    alerts = wait_for("an SSH brute-force alert", lambda: app.api("/api/alerts").get("hits"), app)
    assert any("203.0.113.5" in str(a) for a in alerts)

    # A record that is not an envelope is dead-lettered by the parsers on the renamed DLQ
    # topic, where the metrics stage counts it; the events on the renamed events topic are
    # counted by the index stage under `logwarden up` (index.count_events).
    bootstrap = f"127.0.0.1:{app.broker_port}"
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(RENAMED["raw"], b"{not json")
    assert p.flush(30) == 0

    def dead_letter_counted():
        text = httpx.get(app.url + "/metrics", timeout=5).text
        return [l for l in text.splitlines() if l.startswith("logwarden_dead_letters_total{") and 'type="envelope"' in l
                and not l.endswith(" 0.0")]

    wait_for("the dead letter counted by the metrics stage", dead_letter_counted, app)
    # `logwarden status` (GET /api/status) counts dead letters on the renamed topic too: it
    # read the logs.dlq constant and reported 0 while acme.dead held the record.
    status = wait_for("the dead letter counted by /api/status",
                      lambda: (s := app.api("/api/status")) and s["dead_letters"].get("count") and s, app)
    assert status["dead_letters"]["count"] >= 1 and status["alerts_topic"] == RENAMED["alerts"], status["dead_letters"]
    events = [l for l in httpx.get(app.url + "/metrics", timeout=5).text.splitlines() if l.startswith("logwarden_events_total{")]
    assert events, "the index stage counted no events"

    topics = set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)
    assert set(RENAMED.values()) <= topics
    assert not topics & DEFAULTS, f"a stage still uses a default topic name: {sorted(topics & DEFAULTS)}"
