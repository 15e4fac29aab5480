"""One alert per attack: sliding detection with suppression, per correlation type (sans-IO).

Each test writes an event sequence - burst, pause, burst, long pause, burst - and pins the
alert versions the core gives: which alert (1st, 2nd, ... by id), its count and its status,
at which event time. Suppression windows default to the correlation's timespan (1m here).
"""
import orjson
from confluent_kafka import Message

from logwarden.events import ALERTS_TOPIC, ECS_TOPIC
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.config import RulesConfig
from logwarden.rules.engine import Engine
from logwarden.rules.episodes import Episodes, parse_suppression
from logwarden.rules.service import RulesStage
from test_rules_correlation import BASE  # the failed / ok / recon rules



def ev(action: str, n: int, user: str = "bob", ip: str = "10.0.0.1") -> dict:
    return {"action": action, "user": user, "ip": ip, "event": {"id": f"{action}-{n}"}}


class Core:
    """The sans-IO core as the stage drives it: engine + episodes, watermark = newest event time."""

    def __init__(self, corr: str, **episodes):
        rs = ruleset_from_text(BASE + "---\n" + corr)
        assert not rs.errors, [str(e) for e in rs.errors]
        self.eps = Episodes(**episodes)
        self.engine = Engine(rs, self.eps)
        self.numbers: dict[str, int] = {}
        self.versions: list[tuple[float, int, int, str]] = []
        self.n = 0

    def feed(self, ts: float, action: str, **kw) -> None:
        self.n += 1
        for h in self.engine.process(ev(action, self.n, **kw), ref=self.n, ts=ts):
            if h.kind == "correlation":
                self.eps.observe(h, h.corr)
        self.advance(ts)

    def advance(self, now: float) -> None:
        for h in self.engine.tick(now):
            self.eps.observe(h, h.corr)
        self.eps.expire(now)
        for ep in self.eps.drain():
            no = self.numbers.setdefault(ep.id, len(self.numbers) + 1)
            self.versions.append((now, no, ep.count, ep.status))


def burst(core: Core, t0: float, action: str = "fail", n: int = 5, **kw) -> None:
    for i in range(n):
        core.feed(t0 + i, action, **kw)


EVENT_COUNT = "title: brute\nid: c1\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {gte: 5}}\n"


def test_event_count_burst_pause_burst_is_one_alert_whose_count_grows():
    core = Core(EVENT_COUNT)
    burst(core, 0)       # 5 attempts: the condition holds on the 5th
    burst(core, 45)      # the demo's next burst, 45 s later: the same attack
    burst(core, 90)
    core.advance(200)    # quiet for longer than the window: recovered
    burst(core, 300)     # a new attack: a new alert
    assert core.versions == [
        (4, 1, 5, "active"),
        *[(45 + i, 1, 6 + i, "active") for i in range(5)],
        *[(90 + i, 1, 11 + i, "active") for i in range(5)],
        (200, 1, 15, "recovered"),
        (304, 2, 5, "active"),
    ]


def test_event_count_without_episodes_raised_one_alert_per_burst():
    """What the issue saw: detection alone (no episodes) gives a new hit for every burst."""
    rs = ruleset_from_text(BASE + "---\n" + EVENT_COUNT)
    e = Engine(rs)
    hits = [h for t0 in (0, 45, 90) for i in range(5) for h in e.process(ev("fail", i), ts=t0 + i)]
    assert len(hits) == 3


def test_event_count_a_burst_across_a_minute_boundary_is_seen():
    """Sliding, not tumbling: 5 attempts at :57..:01 straddle a boundary and still fire."""
    core = Core(EVENT_COUNT)
    for t in (57, 58, 59, 60.5, 61):
        core.feed(t, "fail")
    assert core.versions == [(61, 1, 5, "active")]


def test_event_count_groups_have_their_own_alerts():
    core = Core(EVENT_COUNT)
    burst(core, 0)
    burst(core, 10, ip="10.0.0.2")
    burst(core, 45)
    assert [v[1:3] for v in core.versions] == [(1, 5), (2, 5), *[(1, 6 + i) for i in range(5)]]


def test_value_count_burst_pause_burst():
    core = Core("title: spray\nid: c2\ncorrelation: {type: value_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {field: user, gte: 3}}\n")
    for i, u in enumerate("abc"):
        core.feed(i, "fail", user=u)          # 3 distinct users: fires
    for i, u in enumerate("de"):
        core.feed(45 + i, "fail", user=u)     # the spray goes on: same alert
    core.advance(200)
    core.feed(300, "fail", user="a")
    core.feed(301, "fail", user="b")          # only 2 distinct users: no alert yet
    core.feed(302, "fail", user="c")
    assert core.versions == [(2, 1, 3, "active"), (45, 1, 4, "active"), (46, 1, 5, "active"),
                             (200, 1, 5, "recovered"), (302, 2, 3, "active")]


def test_temporal_burst_pause_burst():
    core = Core("title: t\nid: c3\ncorrelation: {type: temporal, rules: [recon, failed], group-by: [user], timespan: 1m}\n")
    core.feed(0, "recon")
    core.feed(1, "fail")                      # both rules seen: fires
    core.feed(46, "fail")                     # more of the same within the window: updates
    core.advance(200)
    core.feed(300, "fail")                    # one rule alone: nothing
    core.feed(301, "recon")
    assert core.versions == [(1, 1, 2, "active"), (46, 1, 3, "active"), (200, 1, 3, "recovered"),
                             (301, 2, 2, "active")]


def test_temporal_ordered_burst_pause_burst():
    core = Core("title: t\nid: c4\ncorrelation: {type: temporal_ordered, rules: [failed, ok], group-by: [user], timespan: 1m}\n")
    core.feed(0, "ok")                        # wrong order so far
    core.feed(1, "fail")
    core.feed(2, "ok")                        # failed then ok: fires with the window's 3 events
    core.feed(47, "ok")
    core.advance(200)
    core.feed(300, "ok")
    core.feed(301, "fail")
    core.feed(302, "ok")
    assert core.versions == [(2, 1, 3, "active"), (47, 1, 4, "active"), (200, 1, 4, "recovered"),
                             (302, 2, 3, "active")]


def test_upper_bound_windows_extend_the_alert_only_when_they_hold_again():
    """`lt` is decided when a window closes; a later window that holds again updates the same
    alert (a bare match is no evidence of "fewer than"), one that does not leaves it alone."""
    core = Core("title: quiet\nid: c5\ncorrelation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {lt: 3}}\n")
    core.feed(0, "fail")
    core.feed(10, "fail")                     # window [0, 60]: 2 < 3, decided at the next event
    core.feed(70, "fail")                     # closes it: opens alert 1; window [70, 130] opens
    core.feed(131, "fail")                    # closes [70, 130] with 1: holds, updates alert 1
    for t in range(132, 137):
        core.feed(t, "fail")                  # window [131, 191] fills with 6: does not hold
    core.advance(400)                         # decides [131, 191] (no) and recovers alert 1
    assert core.versions == [(70, 1, 2, "active"), (131, 1, 3, "active"), (400, 1, 3, "recovered")]


def test_suppression_from_the_rule_wins_and_a_correlation_key_is_a_subset_of_its_group_by():
    corr = ("title: brute\nid: c1\nsuppression: {window: 10m}\n"
            "correlation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1m, condition: {gte: 5}}\n")
    core = Core(corr, window=30.0)            # global default window 30 s, the rule's 10m wins
    burst(core, 0)
    burst(core, 300)                          # 5 minutes later: still the same alert
    assert {v[1] for v in core.versions} == {1} and core.versions[-1][2] == 10

    rs = ruleset_from_text(BASE + "---\n" + corr.replace("{window: 10m}", "{window: 10m, by: [user]}"))
    assert len(rs.errors) == 1 and "must name group-by fields" in rs.errors[0].reason
    text = BASE + "---\n" + corr.replace("{window: 10m}", "{window: soon}")
    rs = ruleset_from_text(text)
    assert len(rs.errors) == 1 and "duration" in rs.errors[0].reason
    assert text.splitlines()[rs.errors[0].line - 1].startswith("suppression:")
    assert parse_suppression({"by": "source.ip"}).by == ["source.ip"]


def test_state_snapshot_restored_at_any_point_gives_the_same_alerts():
    """Cut the stream after every event, carry the state through JSON into a fresh core and
    go on: the alert versions are those of the uninterrupted run."""
    def script(core: Core, start: int = 0, stop: int | None = None) -> None:
        steps = [(t0 + i, "fail") for t0 in (0, 45, 90) for i in range(5)] + [(200, None)] + [(300 + i, "fail") for i in range(5)]
        for ts, action in steps[start:stop]:
            core.feed(ts, action) if action else core.advance(ts)

    whole = Core(EVENT_COUNT)
    script(whole)
    for cut in range(1, 21):
        a = Core(EVENT_COUNT)
        script(a, 0, cut)
        state = orjson.loads(orjson.dumps({"c": a.engine.correlator.snapshot(), "e": a.eps.snapshot()}))
        b = Core(EVENT_COUNT)
        b.engine.correlator.restore(state["c"])
        b.eps.restore(state["e"], {c.doc.id: c.doc for c in b.engine.ruleset.correlations})
        b.numbers, b.n = dict(a.numbers), a.n
        script(b, cut)
        assert a.versions + b.versions == whole.versions, cut


def ssh(i: int, s: int) -> dict:
    return {"@timestamp": f"2026-11-26T10:01:{s:02d}Z", "event": {"id": f"ssh{i}", "category": ["authentication"], "outcome": "failure"},
            "process": {"name": "sshd"}, "source": {"ip": "203.0.113.5"}, "host": {"name": "bastion"}}


def msgs(docs: list, start: int = 0) -> list[Message]:
    return [Message(topic=ECS_TOPIC, partition=0, offset=start + i, value=orjson.dumps(d)) for i, d in enumerate(docs)]


def latest(outs) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for o in outs:
        if o.topic == ALERTS_TOPIC:
            a = orjson.loads(o.value)
            out[a["event"]["id"]] = a
    return out


def test_stage_restored_from_a_snapshot_skips_the_replayed_messages():
    """After a crash the shell replays from the committed offset, which may lie before the
    offsets the snapshot covers: those messages are already counted and must be skipped."""
    events = [ssh(i, i) for i in range(3)] + [ssh(3 + i, 30 + i) for i in range(4)]
    cfg = RulesConfig(bundled=True)
    whole = RulesStage(cfg)
    want = latest(whole.process(msgs(events)))
    whole.close()
    assert [a["alert"]["count"] for a in want.values()] == [7]

    a = RulesStage(cfg)
    assert latest(a.process(msgs(events[:3]))) == {}              # 3 of 5: a half-counted window
    snap = orjson.loads(orjson.dumps(a.snapshot()))
    a.close()
    b = RulesStage(cfg)
    b.restore(snap)
    got = latest(b.process(msgs(events[1:], start=1)))          # messages 1 and 2 replayed
    b.close()
    assert {k: (v["alert"]["count"], v["alert"]["event_ids"]) for k, v in got.items()} == \
        {k: (v["alert"]["count"], v["alert"]["event_ids"]) for k, v in want.items()}


def test_notifiers_hear_of_open_escalation_and_recovery_not_every_update(tmp_path):
    from logwarden.rules.config import NotifierConfig

    loud, quiet = tmp_path / "loud.ndjson", tmp_path / "quiet.ndjson"
    now = [1_800_000_000.0]
    cfg = RulesConfig(notifiers=[NotifierConfig(type="file", path=str(loud), escalation=[10, 20], on_recovery=True),
                                 NotifierConfig(type="file", path=str(quiet), escalation=[])])
    st = RulesStage(cfg, clock=lambda: now[0])
    for i in range(25):  # one message per batch: a version per attempt from the 5th on
        st.process(msgs([ssh(i, i)], start=i))
    st.last_event_at -= 60   # the stream went quiet; the watermark follows the clock
    now[0] = 1_900_000_000.0
    (out,) = [o for o in st.idle() if o.topic == ALERTS_TOPIC]
    assert orjson.loads(out.value)["alert"]["status"] == "recovered"
    st.close()  # flushes the notification queue
    changes = [(d["alert"]["change"], d["alert"]["count"]) for d in map(orjson.loads, loud.read_text().splitlines())]
    assert changes == [("opened", 5), ("escalated", 10), ("escalated", 20), ("recovered", 25)]
    assert [orjson.loads(line)["alert"]["change"] for line in quiet.read_text().splitlines()] == ["opened"]


def test_a_rule_reload_keeps_the_half_counted_window_and_the_open_alert(tmp_path):
    import time as _time

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "other.yml").write_text(BASE)
    st = RulesStage(RulesConfig(paths=[str(rules)], reload_interval_ms=100))
    assert latest(st.process(msgs([ssh(i, i) for i in range(3)]))) == {}
    (rules / "more.yml").write_text(BASE.replace("r-", "s-").replace("name: ", "name: s"))
    _time.sleep(0.15)
    got = latest(st.process(msgs([ssh(i, i) for i in range(3, 5)], start=3)))   # reloads first
    assert len(st.engine.rules) == 7 and [a["alert"]["count"] for a in got.values()] == [5]
    again = latest(st.process(msgs([ssh(5, 5)], start=5)))
    st.close()
    assert list(again) == list(got) and again[next(iter(got))]["alert"]["count"] == 6


def test_bad_suppression_settings_are_refused_with_the_reason():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="expected a duration"):
        RulesConfig(suppression={"window": "soon"})
    with pytest.raises(ValidationError, match="longer than 0s"):
        RulesConfig(suppress=[{"rule": "*", "window": "0s"}])
    with pytest.raises(ValueError, match="unknown key"):
        parse_suppression({"windw": "5m"})

