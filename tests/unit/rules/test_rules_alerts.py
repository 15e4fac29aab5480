"""Alert documents, dedup, suppression and minimum level; the stage's process() on real Messages."""
import time

import orjson
from confluent_kafka import Message

from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC, ECS_TOPIC
from logwarden.rules.alerts import build_alert
from logwarden.rules.config import RulesConfig, SuppressionConfig
from logwarden.rules.service import RulesStage

RULE = """title: Curl to pastebin
id: c1
level: medium
author: Jane Doe
description: curl fetching from pastebin
references: [https://example.org/x]
tags: [attack.t1105]
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
    CommandLine|contains: pastebin
  condition: sel
"""


def proc(i: int, ip: str = "192.0.2.1") -> dict:
    return {"@timestamp": f"2026-11-26T10:00:{i:02d}Z", "event": {"id": f"ev{i}", "category": ["process"], "type": ["start"]},
            "process": {"executable": "/usr/bin/curl", "command_line": "curl https://pastebin.com/raw/x"},
            "host": {"name": "web-1"}, "source": {"ip": ip}, "user": {"name": "www"}}


def ssh(i: int) -> dict:
    return {"@timestamp": f"2026-11-26T10:01:{i:02d}Z", "event": {"id": f"ssh{i}", "category": ["authentication"], "outcome": "failure"},
            "process": {"name": "sshd"}, "source": {"ip": "203.0.113.5"}, "host": {"name": "bastion"}}


def stage(tmp_path, **kw) -> RulesStage:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "curl.yml").write_text(RULE)
    cfg = RulesConfig(paths=[str(tmp_path / "rules")], reload_interval_ms=100, **kw)
    return RulesStage(cfg)


def msgs(docs: list, start: int = 0) -> list[Message]:
    return [Message(topic=ECS_TOPIC, partition=0, offset=start + i,
                    value=d if isinstance(d, bytes) else orjson.dumps(d)) for i, d in enumerate(docs)]


def test_alert_document_shape(tmp_path):
    st = stage(tmp_path, base_url="http://ui:8080")
    outs = list(st.process(msgs([proc(1)])))
    st.close()
    assert len(outs) == 1 and outs[0].topic == ALERTS_TOPIC
    a = orjson.loads(outs[0].value)
    assert outs[0].key == a["event"]["id"].encode()
    assert a["event"]["kind"] == "alert" and a["event"]["severity"] == 47
    assert a["rule"]["reference"] == ["https://example.org/x"] and a["rule"]["id"] == "c1"
    assert {k: a["rule"][k] for k in ("name", "author", "ruleset", "category")} == {
        "name": "Curl to pastebin", "author": "Jane Doe", "ruleset": "sigma", "category": "linux/process_creation"}
    assert a["tags"] == ["attack.t1105"]
    al = a["alert"]
    assert al["level"] == "medium" and al["count"] == 1 and al["event_ids"] == ["ev1"]
    assert al["first_seen"] == al["last_seen"] == "2026-11-26T10:00:01.000Z"
    assert al["events"] == [proc(1)] and al["query"] == 'event.id:"ev1"'
    assert al["url"].startswith("http://ui:8080/?q=event.id")
    assert a["host"] == {"name": "web-1"} and a["source"] == {"ip": "192.0.2.1"} and a["user"] == {"name": "www"}


def test_correlation_alert_carries_group_and_events(tmp_path):
    """Six attempts in one batch: the correlation fires on the fifth and the sixth updates the
    same alert (one version per batch), so the alert counts all six."""
    st = stage(tmp_path)
    outs = [o for o in st.process(msgs([ssh(i) for i in range(6)])) if o.topic == ALERTS_TOPIC]
    st.close()
    assert len(outs) == 1
    a = orjson.loads(outs[0].value)
    assert a["rule"]["name"] == "SSH brute force from one source address" and a["event"]["severity"] == 73
    assert a["rule"]["author"] == "Logwarden project" and a["rule"]["category"] == "correlation/event_count"
    assert a["alert"]["group"] == {"source.ip": "203.0.113.5"} and a["alert"]["count"] == 6
    assert a["alert"]["event_ids"] == [f"ssh{i}" for i in range(6)]
    assert a["alert"]["status"] == "active" and a["alert"]["version"] == 2
    assert a["source"] == {"ip": "203.0.113.5"}


def test_replayed_events_do_not_alert_twice(tmp_path):
    """Both events open (then update) one alert of host web-1; replaying them changes nothing."""
    st = stage(tmp_path)
    first = list(st.process(msgs([proc(1), proc(2)])))
    replay = list(st.process(msgs([proc(1), proc(2)])))
    st.close()
    assert len(first) == 1 and replay == []
    a = orjson.loads(first[0].value)
    assert a["alert"]["count"] == 2 and a["alert"]["event_ids"] == ["ev1", "ev2"] and a["alert"]["group"] == {"host.name": "web-1"}
    assert st.policy.stats["duplicate"] == 2


def test_min_level(tmp_path):
    st = stage(tmp_path, min_level="high")
    assert list(st.process(msgs([proc(1)]))) == []
    assert len(list(st.process(msgs([ssh(i) for i in range(5)])))) == 1   # the high correlation passes
    st.close()


def test_suppression_window_by_group_field():
    """rules.suppress: one alert per key while matches keep coming within the window; another
    key has its own; after a quiet window the next match opens a new alert."""
    from logwarden.rules.compiler import ruleset_from_text
    from logwarden.rules.engine import Engine
    from logwarden.rules.episodes import Episodes, suppress_entries

    eps = Episodes(suppress_entries([SuppressionConfig(rule="c1", group_by=["source.ip"], window="10m")]))
    eng = Engine(ruleset_from_text(RULE, mapping="ecs"), eps)
    t = 1000.0

    def match(i, ip, ts):
        (hit,) = eng.process(proc(i, ip), ts=ts)
        return eps.observe(hit)
    a = match(1, "192.0.2.1", t)
    assert match(2, "192.0.2.1", t + 60) is a and a.count == 2 and a.version == 2     # same key, inside the window
    b = match(3, "192.0.2.9", t + 61)                                                # other key
    assert b is not a and b.group == {"source.ip": "192.0.2.9"}
    eps.expire(t + 60 + 601)
    assert a.status == "recovered" and b.status == "active"
    late = match(4, "192.0.2.1", t + 700)
    assert late.id != a.id and late.count == 1 and late.status == "active"
    assert build_alert(late, t)["alert"]["group"] == {"source.ip": "192.0.2.1"}


def test_bad_messages_go_to_the_dead_letter_topic(tmp_path):
    st = stage(tmp_path)
    outs = list(st.process(msgs([b"{not json", b"[1, 2]", proc(1)])))
    st.close()
    assert [o.topic for o in outs] == [DLQ_TOPIC, DLQ_TOPIC, ALERTS_TOPIC]
    d = orjson.loads(outs[0].value)
    assert d["event"]["kind"] == "pipeline_error" and d["error"]["type"] == "rules"
    assert "not a JSON object" in d["error"]["message"] and d["event"]["original"] == "{not json"


def test_hot_reload_picks_up_new_and_broken_rules(tmp_path):
    st = stage(tmp_path)
    assert len(st.engine.rules) == 2          # curl + bundled base rule
    (tmp_path / "rules" / "wget.yml").write_text(RULE.replace("id: c1", "id: w1").replace("/curl", "/wget")
                                                 .replace("Curl to", "Wget to"))
    (tmp_path / "rules" / "broken.yml").write_text("title: broken\ndetection: {sel: {a|x: 1}, condition: sel}\n")
    deadline = time.monotonic() + 10
    while not st.maybe_reload():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sorted(r.doc.id for r in st.engine.rules if r.standalone) == ["c1", "w1"]
    assert len(st.engine.ruleset.errors) == 1 and "broken.yml" in st.engine.ruleset.errors[0].file
    doc = proc(5)
    doc["process"]["executable"] = "/usr/bin/wget"
    outs = list(st.process(msgs([doc])))
    st.close()
    assert [orjson.loads(o.value)["rule"]["id"] for o in outs] == ["w1"]


QUIET = """title: sshd went quiet
id: q1
level: medium
author: Logwarden tests
correlation: {type: event_count, rules: [ssh_fail], group-by: [source.ip], timespan: 10s, condition: {lt: 3}}
---
title: ssh failure
id: q2
name: ssh_fail
level: informational
author: Logwarden tests
logsource: {product: linux, service: sshd}
detection: {sel: {event.outcome: failure}, condition: sel}
"""


def test_idle_stream_still_closes_upper_bound_windows_and_reloads(tmp_path):
    """Regression: a window that can only close on time (`lt`) waited for the next event."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "quiet.yml").write_text(QUIET)
    st = RulesStage(RulesConfig(paths=[str(tmp_path / "r")], bundled=False, min_level="low", reload_interval_ms=100))
    assert [o for o in st.process(msgs([ssh(1)])) if o.topic == ALERTS_TOPIC] == []
    assert list(st.idle()) == []  # the stream has only just gone quiet
    st.last_event_at -= 60        # ... a minute later, still nothing
    fired = [orjson.loads(o.value) for o in st.idle() if o.topic == ALERTS_TOPIC]
    assert [a["rule"]["name"] for a in fired] == ["sshd went quiet"]
    # rule files hot-reload while no events flow
    (tmp_path / "r" / "curl.yml").write_text(RULE)
    time.sleep(0.15)
    list(st.idle())
    assert any(o.topic == ALERTS_TOPIC for o in st.process(msgs([proc(1)], start=10)))


def test_a_correlation_alert_names_its_group_and_the_values_seen_not_the_first_event(tmp_path):
    """The brute force alert used to carry the first event's user.name ('git'), which read as
    if that user were the target; now the group-by field has the group's value and the other
    copied fields the set of values the events had, or nothing."""
    def attempt(i, user):
        doc = ssh(i)
        if user:
            doc["user"] = {"name": user}
        return doc

    st = stage(tmp_path)
    users = ["git", "root", "admin", None, "root"]
    outs = [o for o in st.process(msgs([attempt(i, u) for i, u in enumerate(users)])) if o.topic == ALERTS_TOPIC]
    st.close()
    (out,) = outs
    a = orjson.loads(out.value)
    assert a["alert"]["group"] == {"source.ip": "203.0.113.5"}
    assert a["source"] == {"ip": "203.0.113.5"}           # the group-by field: one value
    assert a["user"] == {"name": ["admin", "git", "root"]}  # every value seen, once, sorted
    assert a["host"] == {"name": ["bastion"]}

    st = stage(tmp_path)  # no event has a user: no user field at all
    (out,) = [o for o in st.process(msgs([ssh(i) for i in range(5)])) if o.topic == ALERTS_TOPIC]
    st.close()
    assert "user" not in orjson.loads(out.value)


def test_notification_templates_render_value_lists():
    from logwarden.rules.notify import DEFAULT_SUBJECT, DEFAULT_TEMPLATES, render

    alert = {"rule": {"name": "SSH brute force", "author": "x"}, "alert": {"level": "high", "count": 5, "group": {},
             "first_seen": "a", "last_seen": "b", "query": "q", "url": ""},
             "host": {"name": ["bastion", "web-1"]}, "source": {"ip": "203.0.113.5"}}
    assert "on bastion, web-1\n" in render(DEFAULT_TEMPLATES["slack"], alert)
    assert render(DEFAULT_SUBJECT, alert).endswith("from 203.0.113.5")


def test_brute_force_split_across_batches_alerts_after_the_stream_was_idle(tmp_path):
    """Regression (found by the chaos run, issue 18): once the stream had been quiet for
    IDLE_GRACE_S the watermark followed the wall clock, and every batch's tick then forgot
    each brute-force group whose events were older than a minute before now - so a backlog
    (an agent back after an outage, a host with a slow clock) whose five failures were split
    across two batches raised nothing."""
    st = stage(tmp_path)
    st.last_event_at -= 60
    list(st.idle())  # a quiet minute: the watermark is now the wall clock, far past 2026-11-26
    first = [o for o in st.process(msgs([ssh(i) for i in range(3)])) if o.topic == ALERTS_TOPIC]
    rest = [orjson.loads(o.value) for o in st.process(msgs([ssh(i) for i in range(3, 5)], start=3)) if o.topic == ALERTS_TOPIC]
    assert first == []
    assert [a["rule"]["name"] for a in rest] == ["SSH brute force from one source address"]
    assert rest[0]["source"]["ip"] == "203.0.113.5"
