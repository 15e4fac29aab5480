"""`logwarden replay`'s planning (logwarden/replay_plan.py): --from/--to into per-partition
slices, the cursor that ends them, and --into checked against the stage registry."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from logwarden.config import Config
from logwarden.replay_plan import Cursor, From, PlanError, Span, Target, parse_from, parse_to, plan, resolve_target
from logwarden.stages import BY_NAME

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000


def test_from_forms():
    assert parse_from(None, NOW) == From() and parse_from("earliest", NOW) == From()
    assert parse_from("1200", NOW) == From(offset=1200)
    assert parse_from("now-7d", NOW) == From(time_ms=NOW_MS - 7 * DAY_MS)
    assert parse_from("2026-12-01T08:00:00Z", NOW).time_ms == int(datetime(2026, 12, 1, 8, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_from("2026-12-01", NOW).time_ms == int(datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("bad", ["yesterday", "-5", "now-7x", "2026-13-01", "12:00"])
def test_bad_from_says_what_is_accepted(bad):
    with pytest.raises(ValueError, match=r"--from: expected an offset \(1200\), a date .* or date math"):
        parse_from(bad, NOW)


def test_to_includes_its_whole_day_or_unit():
    assert parse_to(None, NOW) is None
    assert parse_to("now", NOW) == NOW_MS
    day = int(datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp() * 1000)
    assert parse_to("2026-12-01", NOW) == day + DAY_MS - 1          # the last millisecond of the day
    assert parse_to("now-1d/d", NOW) == NOW_MS - NOW_MS % DAY_MS - 1  # yesterday, all of it
    with pytest.raises(ValueError, match="--to: expected a date"):
        parse_to("1200", NOW)  # an offset is not a time: --to takes times only


WATERMARKS = {0: (100, 500), 1: (0, 300), 2: (40, 40)}  # partition 2: everything deleted (empty)


def test_default_plan_is_everything_retained_up_to_the_end_at_start():
    p = plan("logs.ecs", WATERMARKS, From())
    assert p.spans == (Span("logs.ecs", 0, 100, 500), Span("logs.ecs", 1, 0, 300), Span("logs.ecs", 2, 40, 40))
    assert p.total == 700 and [s.partition for s in p.pending] == [0, 1]


def test_offset_start_is_clamped_to_what_each_partition_retains():
    p = plan("t", WATERMARKS, From(offset=200))
    assert [(s.start, s.end) for s in p.spans] == [(200, 500), (200, 300), (40, 40)]
    p = plan("t", WATERMARKS, From(offset=50))
    assert [(s.start, s.end) for s in p.spans] == [(100, 500), (50, 300), (40, 40)]
    p = plan("t", WATERMARKS, From(offset=10_000))
    assert p.total == 0 and p.pending == []


def test_time_bounds_use_the_brokers_answers_and_none_means_the_log_end():
    # the broker: partition 0's first record at/after --from is 250; partition 1 has none that late (-1)
    p = plan("t", WATERMARKS, From(time_ms=NOW_MS), start_by_time={0: 250, 1: -1, 2: -1})
    assert [(s.start, s.end) for s in p.spans] == [(250, 500), (300, 300), (40, 40)]
    # --to: the first record after it ends the slice; none after it: the end at start
    p = plan("t", WATERMARKS, From(), end_by_time={0: 260, 1: -1})
    assert [(s.start, s.end) for s in p.spans] == [(100, 260), (0, 300), (40, 40)]
    # a --to before --from: nothing, not a negative span
    p = plan("t", WATERMARKS, From(time_ms=NOW_MS), start_by_time={0: 400, 1: 10}, end_by_time={0: 300, 1: 5})
    assert [s.size for s in p.spans] == [0, 0, 0] and p.total == 0


def test_cursor_ends_each_partition_at_its_end_offset():
    c = Cursor(plan("t", {0: (0, 3), 1: (0, 2)}, From()))
    assert not c.done and c.progress == 0
    assert [c.take(0, o) for o in (0, 1)] == [True, True]
    assert c.progress == 2 and 0 not in c.finished
    assert c.take(0, 2) is True and 0 in c.finished          # the last offset of the slice ends it
    assert c.take(0, 3) is False                              # appended after the start: not replayed
    assert c.take(1, 0) is True and not c.done
    c.end_of_log(1, 1)                                        # an end-of-log below the end: not done
    assert not c.done
    assert c.take(1, 1) is True and c.done and c.progress == 5


def test_cursor_finishes_on_a_gap_at_the_end():
    """A compacted topic (or transaction markers) leaves gaps: the last offset of the slice may
    never arrive; the next record past the end, or the end-of-log event, finishes the partition."""
    c = Cursor(plan("alerts", {0: (0, 10), 1: (0, 10)}, From()))
    assert c.take(0, 7) is True
    assert c.take(0, 12) is False and 0 in c.finished         # offsets 8, 9 compacted away
    assert c.take(1, 4) is True
    c.end_of_log(1, 10)
    assert c.done and c.progress == 20


def test_cursor_of_an_empty_plan_is_done_at_once():
    assert Cursor(plan("t", {0: (5, 5)}, From())).done


INPUTS = {s.name: s.inputs(Config().topics) for s in BY_NAME.values()}
EXISTING = {"logs.raw", "logs.ecs", "logs.dlq", "alerts", "rules.state", "logs.derived"}


def test_into_a_stage_that_reads_the_topic():
    assert resolve_target("rules", "logs.ecs", INPUTS, EXISTING) == Target(stage="rules")
    assert resolve_target("parsers", "logs.raw", INPUTS, EXISTING) == Target(stage="parsers")
    assert resolve_target("index", "alerts", INPUTS, EXISTING) == Target(stage="index")


def test_into_a_topic_copies():
    assert resolve_target("logs.raw", "logs.raw", INPUTS, EXISTING) == Target(topic="logs.raw")
    assert resolve_target("logs.derived", "logs.ecs", INPUTS, EXISTING) == Target(topic="logs.derived")


@pytest.mark.parametrize("into, topic, message", [
    ("rules", "logs.raw", "the rules stage reads logs.ecs, not logs.raw"),
    ("parsers", "logs.ecs", "the parsers stage reads logs.raw, not logs.ecs"),
    ("metrics", "logs.ecs", "cannot replay into the metrics stage"),
    ("http", "logs.ecs", "cannot replay into the http stage .it is not a consumer stage"),
    ("rule", "logs.ecs", "neither a stage .parsers, index, rules. nor a topic"),
    ("rules", "logs.missing", "--topic logs.missing: no such topic"),
])
def test_malformed_targets_are_plan_errors(into, topic, message):
    with pytest.raises(PlanError, match=message):
        resolve_target(into, topic, INPUTS, EXISTING)


def test_a_rules_replay_instance_has_no_state_store_and_no_notifiers(tmp_path):
    """It must not overwrite the live worker's checkpoint on rules.state, nor page anyone."""
    from logwarden.replay import build_stage

    cfg = Config(data_dir=str(tmp_path), rules={"notifiers": [{"type": "file", "path": str(tmp_path / "n.ndjson")}]})
    stage = build_stage(cfg, "rules")
    try:
        assert stage.store is None and stage.dispatcher.notifiers == []
        assert stage.cfg.base_url  # alert links still lead to the UI
    finally:
        stage.close()
    stage = build_stage(cfg, "rules", notify=True)
    try:
        assert stage.store is None and len(stage.dispatcher.notifiers) == 1
    finally:
        stage.close()
