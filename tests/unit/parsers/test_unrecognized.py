"""Lines `auto` recognises as no format are indexed as plain events (parsers.unrecognized)."""
from datetime import datetime, timezone

import pytest

from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.engine import Engine
from logwarden.parsers.timefmt import find_time

from parsers_testlib import envelope

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=timezone.utc)


def test_unrecognised_line_is_a_plain_event_with_the_envelope():
    eng = Engine(ParsersConfig(timezone="UTC"), now=NOW)
    raw = envelope("plain words only here", tags=["edge"])
    doc = eng.parse(raw)
    assert isinstance(doc, dict)
    assert doc["message"] == "plain words only here" and doc["event"]["original"] == "plain words only here"
    assert doc["tags"] == ["edge", "unparsed"]
    assert doc["@timestamp"] == raw["@timestamp"]   # no time in the line: the read time
    assert doc["host"] == raw["host"] and doc["log"]["file"] == raw["log"]["file"] and doc["log"]["offset"] == raw["log"]["offset"]
    assert eng.take_unparsed() == 1 and eng.take_unparsed() == 0


def test_time_after_a_level_word_is_the_event_time():
    eng = Engine(ParsersConfig(timezone="UTC"), now=NOW)
    doc = eng.parse(envelope("ERROR 2026-12-07T13:00:01Z worker-3 job 17 failed"))
    assert doc["@timestamp"] == "2026-12-07T13:00:01.000Z" and doc["tags"] == ["unparsed"]


def test_zone_less_time_is_read_in_the_configured_zone():
    eng = Engine(ParsersConfig(timezone="+02:00"), now=NOW)
    doc = eng.parse(envelope("[main] 2026-12-07 13:00:01,250 something happened"))
    assert doc["@timestamp"] == "2026-12-07T11:00:01.250Z"


def test_unrecognized_dlq_and_declared_formats_still_dead_letter():
    r = Engine(ParsersConfig(unrecognized="dlq")).parse(envelope("plain words only here"))
    assert isinstance(r, ParseFailure) and r.parser == "auto"
    # a declared format that does not fit is on_unmatched's (dlq by default), not unrecognized's
    r = Engine(ParsersConfig()).parse(envelope("plain words only here", fields={"log_format": "nginx"}))
    assert isinstance(r, ParseFailure) and r.parser == "nginx"


def test_a_pipeline_still_runs_on_an_unparsed_line():
    cfg = ParsersConfig.model_validate({"pipelines": [{"name": "app", "processors": [
        {"type": "set", "field": "service.name", "value": "shop"}]}]})
    doc = Engine(cfg, now=NOW).parse(envelope("plain words only here"))
    assert doc["service"]["name"] == "shop" and doc["tags"] == ["unparsed"]


@pytest.mark.parametrize("line,want", [
    ("ERROR 2026-12-07T13:00:01Z worker-3", "2026-12-07T13:00:01.000Z"),
    ("at 2026-12-07T13:00:01+0100 x", "2026-12-07T12:00:01.000Z"),
    ("x 2026-12-07T13:00:01.5-05:00", "2026-12-07T18:00:01.500Z"),
    ("WARN 07/Dec/2026:13:00:01 +0100 x", "2026-12-07T12:00:01.000Z"),
    ("job Dec  7 13:00:01 done", "2026-12-07T13:00:01.000Z"),
    ("plain words only here", None),
    ("id 12026-12-07T13:00:01Z", None),                       # not a date: digits run on
    ("2026-13-45T99:00:01Z not a real time", None),
    ("x" * 70 + " 2026-12-07T13:00:01Z", None),               # too far into the line
])
def test_find_time(line, want):
    assert find_time(line, timezone.utc, NOW) == want
