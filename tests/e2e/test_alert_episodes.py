"""The demo's SSH password guessing through a real `logwarden up`: one alert per attack,
updated in place, across SIGKILLs of the rules worker.

Regression (issue 19): the bundled brute-force correlation raised an alert per 5 attempts,
bridging bursts, so a 90 s attack gave four alerts each claiming 5 events; and the rules
worker's windows lived in memory, so a restart forgot a half-counted window. The bursts are
the demo's own lines (`logwarden.demo.burst_lines`: 8 attempts from 203.0.113.5), written
into a tailed file with event times a few seconds apart rather than 45 s, which the rule's
1 m timespan (and the suppression window it implies) allows.
"""
from __future__ import annotations

import os
import random
import signal
import time

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from e2e_harness import Appliance, wait_for
from logwarden.demo import BURST_ATTEMPTS, burst_lines

pytestmark = [pytest.mark.e2e]

BRUTE = "5d2c8a7e-3f61-4c1b-9a0e-6f4b2d7c9e11"


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path, config={"rules": {"notifiers": [{"type": "file", "path": str(tmp_path / "notified.ndjson")}]}})
    yield a
    a.stop()


def brute_alerts(app: Appliance) -> list[dict]:
    return app.api("/api/alerts", q=f'rule.id:"{BRUTE}"').get("hits") or []


def rules_worker(app: Appliance) -> dict:
    return orjson.loads((app.data / "run" / "status.json").read_bytes())["children"]["rules"]


def all_counted(app: Appliance) -> bool:
    """Every event on logs.ecs is covered by the rules group's committed offsets - which the
    worker commits only after its state snapshot is durable."""
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{app.broker_port}", "group.id": "logwarden-rules"})
    try:
        parts = c.list_topics("logs.ecs", timeout=10).topics["logs.ecs"].partitions
        tps = [TopicPartition("logs.ecs", p) for p in parts]
        ends = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)
        done = sum(max(tp.offset, 0) for tp in c.committed(tps, timeout=10))
        return ends > 0 and done == ends
    finally:
        c.close()


def kill_rules_worker(app: Appliance) -> None:
    before = rules_worker(app)
    os.kill(before["pid"], signal.SIGKILL)

    def restarted():
        s = rules_worker(app)
        return s["running"] and s["pid"] != before["pid"] and s["restarts"] == before["restarts"] + 1

    wait_for("the SIGKILLed rules worker restarted", restarted, app)


def one_alert(app: Appliance, count: int) -> dict:
    def settled():
        hits = brute_alerts(app)
        return hits if hits and hits[0]["alert"]["count"] == count else None

    hits = wait_for(f"the brute-force alert counting {count}", settled, app, timeout=60)
    assert len(hits) == 1, [(h["event"]["id"], h["alert"]["count"]) for h in hits]
    return hits[0]


def test_one_alert_per_attack_updated_in_place_across_rules_worker_sigkills(app, tmp_path):
    rng = random.Random(19)
    app.start()
    wait_for("HTTP API up", lambda: app.api("/health"), app, timeout=60)
    wait_for("the rules worker running", lambda: rules_worker(app)["running"], app, timeout=60)

    # Burst 1, cut in the middle of its window: 3 attempts counted, then the worker dies.
    first = burst_lines(rng, time.time())
    app.append(first[:3])
    wait_for("the 3 attempts counted and committed", lambda: all_counted(app), app, timeout=60)
    assert brute_alerts(app) == []
    kill_rules_worker(app)
    app.append(first[3:])  # 2 more attempts reach the condition (5) only with the 3 restored
    a1 = one_alert(app, BURST_ATTEMPTS)
    assert a1["alert"]["status"] == "active" and a1["alert"]["group"] == {"source.ip": "203.0.113.5"}
    assert len(set(a1["alert"]["event_ids"])) == BURST_ATTEMPTS

    # Burst 2, a few seconds later: the same alert, updated.
    time.sleep(1.1)  # syslog timestamps have whole seconds: let last_seen move
    app.append(burst_lines(rng, time.time()))
    a2 = one_alert(app, 2 * BURST_ATTEMPTS)
    assert a2["event"]["id"] == a1["event"]["id"] and a2["alert"]["first_seen"] == a1["alert"]["first_seen"]
    assert a2["alert"]["last_seen"] > a1["alert"]["last_seen"] and a2["alert"]["version"] > a1["alert"]["version"]

    # The worker dies with the alert open; burst 3 still updates the same alert, exactly.
    wait_for("burst 2 committed", lambda: all_counted(app), app, timeout=60)
    kill_rules_worker(app)
    time.sleep(1.1)
    app.append(burst_lines(rng, time.time()))
    a3 = one_alert(app, 3 * BURST_ATTEMPTS)
    assert a3["event"]["id"] == a1["event"]["id"] and a3["alert"]["last_seen"] > a2["alert"]["last_seen"]
    assert len(set(a3["alert"]["event_ids"])) == 3 * BURST_ATTEMPTS

    # Notified on open and when the count reached 10 (the default escalation), once each,
    # although the worker restarted twice in between. (The counts depend on how the lines fell
    # into the worker's batches: one version per batch.)
    path = tmp_path / "notified.ndjson"
    wait_for("two notifications", lambda: path.exists() and len(path.read_text().splitlines()) >= 2, app)
    notified = [orjson.loads(line) for line in path.read_text().splitlines()]
    assert [(n["event"]["id"], n["alert"]["change"]) for n in notified] == [
        (a1["event"]["id"], "opened"), (a1["event"]["id"], "escalated")]
    assert 5 <= notified[0]["alert"]["count"] <= BURST_ATTEMPTS
    assert 10 <= notified[1]["alert"]["count"] <= 2 * BURST_ATTEMPTS
