"""`logwarden replay` against a real `logwarden up`: new rules over history, and re-parsing
logs.raw with the index collapsing the copies by event.id.

The replay runs as a user runs it (a subprocess with the appliance's -c file), and its
results are read through the HTTP API. Besides the results, each case checks that the
replay left the live stages alone: the live groups' committed offsets do not move, and a
rules replay writes nothing to rules.state (the live rules worker's checkpoint).
"""
from __future__ import annotations

import re

import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition

from e2e_harness import SSHD_FAIL, SSHD_OK, Appliance, wait_for
from lwtest import run_cli

pytestmark = [pytest.mark.e2e]

RULE_ID = "c0ffee00-1313-4e13-9a13-131313131313"
# A rule the appliance did not have when the lines arrived: a single-event rule on sshd's
# failed passwords for `admin` (SSHD_FAIL), so every replayed line is one match.
NEW_RULE = {
    "title": "SSH password guessing for admin", "id": RULE_ID, "status": "test", "level": "high",
    "author": "test", "logsource": {"product": "linux", "service": "sshd"},
    "detection": {"selection": {"event.outcome": "failure", "user.name": "admin"}, "condition": "selection"},
}


def _consumer(app: Appliance, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": f"127.0.0.1:{app.broker_port}", "group.id": group})


def ends(app: Appliance, topic: str) -> dict[int, int]:
    c = _consumer(app, "e2e-replay-reader")
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def committed(app: Appliance, group: str, topic: str) -> dict[int, int]:
    c = _consumer(app, group)
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return {tp.partition: max(tp.offset, 0) for tp in c.committed([TopicPartition(topic, p) for p in parts], timeout=10)}
    finally:
        c.close()


def covered(app: Appliance, group: str, topic: str, total: int | None = None) -> bool:
    """The group committed every record of `topic` (exactly `total` of them, when given):
    a stage commits only after its outputs and side effects (the index commit) are durable."""
    end = ends(app, topic)
    return sum(end.values()) > 0 and (total is None or sum(end.values()) == total) and committed(app, group, topic) == end


def replay(app: Appliance, *args: str) -> str:
    r = run_cli("replay", "-c", str(app.tmp / "logwarden.yml"), *args, timeout=120)
    assert r.returncode == 0, f"replay exited {r.returncode}:\n{r.stdout}\n{r.stderr}\n{app.output()}"
    assert r.stdout.count("\n") == 1, r.stdout  # piped: no progress bar, one summary line
    return r.stdout


def start(app: Appliance, config: dict) -> None:
    app.config = {**config, "broker": {"listen": f"127.0.0.1:{app.broker_port}"}}  # the replay's -c finds the broker
    app.start()
    wait_for("HTTP API up", lambda: app.api("/health"), app, timeout=60)


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path)
    yield a
    a.stop()


def test_a_new_rule_over_history_alerts_through_a_rules_replay(app, tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    start(app, {"rules": {"bundled": False, "paths": [str(rules_dir)], "reload_interval_ms": 500}})
    lines = [SSHD_FAIL.format(s=s, port=51000 + s) for s in range(8)]
    app.append(lines)
    wait_for("the sshd lines searchable", lambda: app.api("/api/search", q="user.name:admin").get("total") == 8, app)
    wait_for("the live rules worker past every event", lambda: covered(app, "logwarden-rules", "logs.ecs", 8), app, timeout=60)

    # The rule arrives after the events: the live worker (hot reload) will apply it to new
    # events only, so history needs a replay.
    (rules_dir / "admin_guessing.yml").write_text(yaml.safe_dump(NEW_RULE))
    assert app.api("/api/alerts", q=f'rule.id:"{RULE_ID}"').get("hits") == []
    live_offsets = committed(app, "logwarden-rules", "logs.ecs")
    state_end = ends(app, "rules.state")

    out = replay(app, "--topic", "logs.ecs", "--from", "now-1h", "--into", "rules")
    assert re.match(r"replayed 8 of 8 records of logs.ecs into the rules stage: \d+ outputs produced in [\d.]+ s$", out), out

    def alerted():
        hits = app.api("/api/alerts", q=f'rule.id:"{RULE_ID}"').get("hits")
        # the index keeps an alert's latest version: the events are weeks old (Nov 26), so at
        # the end of the slice the replay recovers the alert instead of leaving it open
        return hits and hits[0]["alert"]["count"] == 8 and hits[0]["alert"]["status"] == "recovered" and hits

    hits = wait_for("the new rule's alert over the replayed events, recovered", alerted, app)
    assert len(hits) == 1, hits
    alert = hits[0]
    events = {h["event"]["id"] for h in app.api("/api/search", q="user.name:admin").get("hits")}
    assert set(alert["alert"]["event_ids"]) == events

    # The live rules worker: its group's offsets untouched, its checkpoint not overwritten.
    assert committed(app, "logwarden-rules", "logs.ecs") == live_offsets
    assert ends(app, "rules.state") == state_end

    # Replaying a window with nothing in it reads nothing.
    out = replay(app, "--topic", "logs.ecs", "--from", "now+1h", "--into", "rules")
    assert out.startswith("replayed 0 of 0 records"), out

    # What cannot be replayed is refused with the reason, exit code 2.
    for args, message in [
        (("--topic", "logs.raw", "--into", "rules"), "the rules stage reads logs.ecs, not logs.raw"),
        (("--topic", "logs.ecs", "--into", "metrics"), "cannot replay into the metrics stage"),
        (("--topic", "logs.ecs", "--into", "nosuch"), "neither a stage"),
        (("--topic", "nosuch", "--into", "rules"), "--topic nosuch: no such topic"),
        (("--topic", "logs.ecs", "--from", "last tuesday", "--into", "rules"), "--from: expected an offset"),
        (("--topic", "logs.ecs", "--to", "17", "--into", "rules"), "--to: expected a date"),
        # the embedded index has one writer, the appliance's index worker
        (("--data-dir", str(app.data), "--topic", "logs.ecs", "--into", "index"), "has a writer already"),
    ]:
        r = run_cli("replay", "-c", str(app.tmp / "logwarden.yml"), *args)
        assert r.returncode == 2 and message in r.stderr, (args, r.returncode, r.stderr)


def test_reparsing_logs_raw_leaves_no_duplicates_in_the_index(app):
    start(app, {})
    lines = [SSHD_OK.format(s=s, port=52000 + s) for s in range(12)]
    app.append(lines)
    q = "process.name:sshd"
    wait_for("the lines searchable", lambda: app.api("/api/search", q=q).get("total") == 12, app)
    ids = {h["event"]["id"] for h in app.api("/api/search", q=q, limit=100)["hits"]}
    assert len(ids) == 12
    wait_for("the live parsers past every line", lambda: covered(app, "logwarden-parsers", "logs.raw", 12), app, timeout=60)
    parsers_offsets = committed(app, "logwarden-parsers", "logs.raw")

    def no_duplicates(ecs_records: int, marker_second: int, expect: int) -> None:
        """Once the index has committed every copy, one more line proves the searcher sees a
        commit at least that recent: the total is then exact, with no duplicates."""
        wait_for("the index past every copy", lambda: covered(app, "logwarden-index", "logs.ecs", ecs_records), app, timeout=60)
        app.append([SSHD_OK.format(s=marker_second, port=53000 + marker_second)])
        wait_for("the marker line searchable", lambda: app.api("/api/search", q=f"source.port:{53000 + marker_second}").get("total") == 1, app)
        hits = app.api("/api/search", q=q, limit=100)
        assert hits["total"] == expect, hits["total"]
        assert len({h["event"]["id"] for h in hits["hits"]}) == expect

    # 1. A replay instance of the parsers: logs.raw -> logs.ecs again (the same event ids).
    out = replay(app, "--topic", "logs.raw", "--into", "parsers")
    assert out.startswith("replayed 12 of 12 records of logs.raw into the parsers stage: 12 outputs produced"), out
    assert committed(app, "logwarden-parsers", "logs.raw") == parsers_offsets  # the live group's, untouched
    no_duplicates(24, 58, 13)
    assert ids <= {h["event"]["id"] for h in app.api("/api/search", q=q, limit=100)["hits"]}

    # 2. A copy of logs.raw into itself: the live parsers parse it all again.
    out = replay(app, "--topic", "logs.raw", "--into", "logs.raw")
    assert out.startswith("replayed 13 of 13 records of logs.raw into logs.raw: 13 outputs produced"), out
    assert sum(ends(app, "logs.raw").values()) == 26  # 13 lines and their 13 copies
    no_duplicates(24 + 1 + 13, 59, 14)
