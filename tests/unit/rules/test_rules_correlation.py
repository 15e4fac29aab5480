"""Correlation rules of every type, with group-by, timespan, aliases and chaining."""
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine

BASE = """
title: failed login
id: r-fail
name: failed
logsource: {product: x}
detection: {sel: {action: fail}, condition: sel}
---
title: good login
id: r-ok
name: ok
logsource: {product: x}
detection: {sel: {action: ok}, condition: sel}
---
title: recon
id: r-recon
name: recon
logsource: {product: x}
detection: {sel: {action: recon}, condition: sel}
"""


def eng(corr: str) -> Engine:
    rs = ruleset_from_text(BASE + "---\n" + corr)
    assert not rs.errors, [str(e) for e in rs.errors]
    return Engine(rs)


def feed(e: Engine, events: list[tuple[float, dict]], close: bool = True) -> list:
    hits = []
    for i, (ts, doc) in enumerate(events, 1):
        hits += [h for h in e.process(doc, ref=i, ts=ts) if h.kind == "correlation"]
    if close:
        hits += e.tick(float("inf"))
    return hits


def ev(action: str, user: str = "bob", ip: str = "10.0.0.1", **kw) -> dict:
    return {"action": action, "user": user, "ip": ip, **kw}


def test_event_count_fires_once_per_burst_per_group():
    e = eng("title: brute\nid: c1\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {gte: 3}}\n")
    events = [(0, ev("fail")), (1, ev("fail", ip="10.0.0.2")), (2, ev("fail")), (3, ev("ok")), (4, ev("fail")),
              (5, ev("fail")), (6, ev("fail"))]
    hits = feed(e, events, close=False)
    assert len(hits) == 1
    assert [r for r, _ in hits[0].events] == [1, 3, 5] and hits[0].group == {"ip": "10.0.0.1"}
    # after firing the group starts afresh: two more attempts are not yet a new burst, a third is
    hits = [h for h in e.process(ev("fail"), ref=8, ts=7) if h.kind == "correlation"]
    assert len(hits) == 1 and [r for r, _ in hits[0].events] == [6, 7, 8]


def test_event_count_respects_the_timespan():
    e = eng("title: brute\nid: c1\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 10s, condition: {gte: 3}}\n")
    assert feed(e, [(0, ev("fail")), (8, ev("fail")), (16, ev("fail")), (24, ev("fail"))]) == []
    e = eng("title: brute\nid: c1\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 10s, condition: {gte: 3}}\n")
    hits = feed(e, [(0, ev("fail")), (8, ev("fail")), (16, ev("fail")), (17, ev("fail"))])
    assert len(hits) == 1 and [r for r, _ in hits[0].events] == [2, 3, 4]


def test_event_count_upper_bound_is_decided_when_the_window_closes():
    e = eng("title: quiet\nid: c1\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 10s, condition: {lt: 3}}\n")
    hits = feed(e, [(0, ev("fail")), (1, ev("fail")), (20, ev("fail")), (21, ev("fail")), (22, ev("fail"))])
    assert len(hits) == 1 and [r for r, _ in hits[0].events] == [1, 2]


def test_value_count_counts_distinct_values():
    e = eng("title: spray\nid: c2\ncorrelation: {type: value_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {field: user, gte: 3}}\n")
    hits = feed(e, [(0, ev("fail", user="a")), (1, ev("fail", user="a")), (2, ev("fail", user="b")), (3, ev("fail", user="c"))])
    assert len(hits) == 1 and hits[0].value == 3 and hits[0].count == 4


def test_temporal_any_order():
    e = eng("title: t\nid: c3\ncorrelation: {type: temporal, rules: [recon, failed, ok], group-by: [user], timespan: 1m}\n")
    hits = feed(e, [(0, ev("ok")), (1, ev("recon", user="eve")), (2, ev("fail")), (3, ev("recon"))])
    assert len(hits) == 1 and [r for r, _ in hits[0].events] == [1, 3, 4]


def test_temporal_ordered_requires_the_order():
    corr = "title: t\nid: c4\ncorrelation: {type: temporal_ordered, rules: [failed, ok], group-by: [user], timespan: 1m}\n"
    assert feed(eng(corr), [(0, ev("ok")), (1, ev("fail"))]) == []
    hits = feed(eng(corr), [(0, ev("ok")), (1, ev("fail")), (2, ev("ok"))])
    assert len(hits) == 1


def test_value_sum_and_avg():
    e = eng("title: exfil\nid: c5\ncorrelation: {type: value_sum, rules: [ok], group-by: [user], timespan: 1h, condition: {field: bytes, gt: 1000}}\n")
    hits = feed(e, [(0, ev("ok", bytes=600)), (1, ev("ok", bytes="300")), (2, ev("ok", bytes=200))])
    assert len(hits) == 1 and hits[0].value == 1100
    e = eng("title: avg\nid: c6\ncorrelation: {type: value_avg, rules: [ok], group-by: [user], timespan: 1h, condition: {field: bytes, gt: 500}}\n")
    hits = feed(e, [(0, ev("ok", bytes=100)), (1, ev("ok", bytes=2000))])
    assert len(hits) == 1 and hits[0].value == 1050


def test_value_percentile_finds_rare_values():
    e = eng("title: rare\nid: c7\ncorrelation: {type: value_percentile, rules: [ok], group-by: [ip], timespan: 1h, condition: {field: user, lte: 10}}\n")
    events = [(i, ev("ok", user="common")) for i in range(20)] + [(30, ev("ok", user="rare"))]
    hits = feed(e, events)
    assert len(hits) == 1 and hits[0].events[-1][0] == 21


def test_aliases_group_across_fields():
    corr = """title: t
id: c8
correlation:
  type: temporal
  rules: [failed, ok]
  group-by: [addr]
  timespan: 1m
  aliases:
    addr:
      failed: ip
      ok: client
"""
    hits = feed(eng(corr), [(0, ev("fail", ip="1.1.1.1")), (1, {"action": "ok", "client": "2.2.2.2"}),
                            (2, {"action": "ok", "client": "1.1.1.1"})])
    assert len(hits) == 1 and hits[0].group == {"addr": "1.1.1.1"}


def test_chained_correlations_spec_example():
    corr = """title: Failed then success
id: c-outer
correlation:
  type: temporal_ordered
  rules: [many_failed, ok]
  group-by: [user]
  timespan: 10m
level: high
---
title: Many failed
id: c-inner
name: many_failed
correlation: {type: event_count, rules: [failed], group-by: [user], timespan: 10m, condition: {gte: 3}}
"""
    e = eng(corr)
    hits = feed(e, [(0, ev("fail")), (1, ev("fail")), (2, ev("ok", user="x")), (3, ev("fail")), (4, ev("ok"))])
    titles = [h.doc.title for h in hits]
    assert titles == ["Failed then success"], titles
    assert [r for r, _ in hits[0].events] == [1, 2, 4, 5]


def test_referenced_rules_alert_only_with_generate():
    rs = ruleset_from_text(BASE + "---\ntitle: c\nid: c9\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {gte: 2}}\n")
    assert {r.doc.id: r.standalone for r in rs.rules} == {"r-fail": False, "r-ok": True, "r-recon": True}
    rs = ruleset_from_text(BASE + "---\ntitle: c\nid: c9\ncorrelation: {type: event_count, generate: true, rules: [failed], group-by: [ip], timespan: 1m, condition: {gte: 2}}\n")
    assert all(r.standalone for r in rs.rules)


def test_correlation_errors():
    for body, reason in [
        ("{type: nope, rules: [failed], timespan: 1m, condition: {gte: 1}}", "not one of"),
        ("{type: event_count, rules: [missing], timespan: 1m, condition: {gte: 1}}", "missing, which is not a loaded rule"),
        ("{type: event_count, rules: [failed], timespan: soon, condition: {gte: 1}}", "timespan"),
        ("{type: event_count, rules: [failed], timespan: 1m}", "needs a condition"),
        ("{type: value_count, rules: [failed], timespan: 1m, condition: {gte: 1}}", "condition.field"),
    ]:
        rs = ruleset_from_text(BASE + "---\ntitle: c\nid: cx\ncorrelation: " + body + "\n")
        assert len(rs.errors) == 1 and reason in rs.errors[0].reason, (body, rs.errors)
        assert len(rs.rules) == 3
