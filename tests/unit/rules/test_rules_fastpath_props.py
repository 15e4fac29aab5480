"""Property tests: the generated hot path (fastpath.py) equals the generic reference code.

`Engine.match` runs generated code (stage 1: indexed fields + candidate lookups; stage 2:
the other fields, only for events with candidates); `Engine.match_reference` runs
`event.prepare` + `Engine.candidates`. On any document - nested, flat dotted keys, a mix
of both, lists of objects, odd scalar types, NULs, non-ASCII case folding - both must pick
the same rules in the same order and build the same views.
"""
from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings, strategies as st

from logwarden.rules import fastpath
from logwarden.rules.ruleset import BUNDLED_DIR, load
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine
from logwarden.rules.event import prepare

DATA = Path(__file__).resolve().parents[2] / "data" / "sigma" / "rules"


def _literals(rules) -> list[str]:
    out: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x:
            out.add(x.replace("*", "").replace("?", "x"))
    for r in rules:
        walk(r.doc.data.get("detection"))
    return sorted(out)


ENGINE = Engine(load([str(DATA), str(BUNDLED_DIR)], "ecs"))
FIELDS = sorted(ENGINE.fields)
WORDS = _literals(ENGINE.rules) + ["", "x", "GET", "web", "process", "authentication", "sshd", "İstanbul", "a\x00b"]

scalars = st.one_of(
    st.sampled_from(WORDS).flatmap(lambda w: st.sampled_from([w, w.upper(), f"pre {w} post", f"/x/{w}"])),
    st.integers(-5, 70000), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))


def _insert(doc: dict, parts: list[str], value, shape: int) -> None:
    """Put `value` at path `parts`: nested (0), as a dotted key at some level (1, 2, ...),
    or inside a list of objects (negative). Conflicting inserts are skipped."""
    if shape > 0 and len(parts) > 1:
        split = min(shape, len(parts) - 1)
        head, tail = parts[:split - 1], ".".join(parts[split - 1:])
        parts = [*head, tail]
    cur = doc
    for i, p in enumerate(parts[:-1]):
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
            if shape < 0 and i == len(parts) - 2:
                cur[p] = [nxt, {"other": 1}]
        elif isinstance(nxt, list) and nxt and isinstance(nxt[0], dict):
            nxt = nxt[0]
        if not isinstance(nxt, dict):
            return
        cur = nxt
    cur.setdefault(parts[-1], value)


@st.composite
def documents(draw) -> dict:
    doc: dict = {}
    for f in draw(st.lists(st.sampled_from(FIELDS), max_size=10)):
        _insert(doc, f.split("."), draw(values), draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3, -1])))
    for key in draw(st.lists(st.sampled_from(["agent", "x.y", "event.junk", "@timestamp", "host"]), max_size=3)):
        doc.setdefault(key, draw(st.one_of(values, st.fixed_dictionaries({"name": values}))))
    return doc


def _views(eng: Engine, doc: dict) -> tuple[dict, dict]:
    flat, low, _, slow = eng.stage1(doc)
    if slow:
        low = fastpath.lower_all(flat)
    if eng.stage2(doc, flat, low):
        low = fastpath.lower_all(flat)
    return flat, low


@settings(max_examples=600, deadline=None)
@given(documents())
def test_fast_match_equals_reference(doc):
    flat, fast = ENGINE.match(doc)
    ref_flat, ref = ENGINE.match_reference(doc)
    assert [r.seq for r in fast] == [r.seq for r in ref]
    for k, v in flat.items():  # a subset of the reference view ...
        assert ref_flat[k] == v
    for r in fast:                # ... holding what the matched rules and their correlations read
        assert {k: ref_flat[k] for k in ENGINE._needs[r.seq] if k in ref_flat}.items() <= flat.items()
    assert _views(ENGINE, doc) == prepare(doc, ENGINE.plan)
    _, _, cands, slow = ENGINE.stage1(doc)
    if not slow:  # (slow: the caller runs the reference lookup itself)
        assert cands == set(ENGINE.candidates(*prepare(doc, ENGINE.plan)))


def test_generated_events_match_like_the_reference():
    """Events built from the rules' own values, nested and flat: many matches, all equal."""
    rng = random.Random(5)
    sigmahq = ENGINE
    hits = 0
    for r in sigmahq.rules:
        for _ in range(3):
            doc: dict = {}
            for f in sorted(sigmahq.fields):
                if rng.random() < 0.15:
                    _insert(doc, f.split("."), rng.choice(WORDS), rng.choice([0, 0, 1, -1]))
            det = r.doc.data.get("detection") or {}
            for name, body in det.items():
                if isinstance(body, dict):
                    for k, v in body.items():
                        field = r.resolved.map_field(k.split("|")[0])[0] if k.split("|")[0] else "message"
                        val = rng.choice(v) if isinstance(v, list) and v else v
                        if isinstance(val, str):
                            val = val.replace("*", "").replace("?", "x")
                        _insert(doc, field.split("."), val, rng.choice([0, 0, 0, 1]))
            for k, v in r.resolved.conditions.items():
                _insert(doc, k.split("|")[0].split("."), v[0] if isinstance(v, list) else v, 0)
            fast = [x.seq for x in sigmahq.match(doc)[1]]
            assert fast == [x.seq for x in sigmahq.match_reference(doc)[1]], doc
            hits += bool(fast)
    assert hits > len(sigmahq.rules) // 2


def test_plain_key_learning_is_bounded_and_exact(monkeypatch):
    """New keys are learnt up to PLAIN_CAP; past it, every level takes the checked path."""
    rs = ruleset_from_text("title: t\nid: t\nlogsource: {}\ndetection: {sel: {a.b|contains: evil}, condition: sel}\n")
    monkeypatch.setattr(fastpath, "PLAIN_CAP", 8)
    eng = Engine(rs)
    for i in range(50):
        doc = {f"k{i}": 1, "a": {"b": f"EVIL {i}", f"j{i}": 2}}
        assert [r.doc.id for r in eng.match(doc)[1]] == ["t"]
    assert len(eng._plain) <= 8 + 3
    assert [r.doc.id for r in eng.match({"a.b": "evil"})[1]] == ["t"]          # dotted key
    assert [r.doc.id for r in eng.match({"a": {"b": "x"}, "a.b": "evil"})[1]] == ["t"]
    assert eng.match({"a.b": "evil", "a": {"b": "x"}})[1] == []               # document order decides, as in prepare
    assert [r.doc.id for r in eng.match({"a": [{"b": "x"}, {"b": "eViL"}]})[1]] == ["t"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["host", "host.name", "event", "event.id", "x"]),
                       st.one_of(scalars, st.dictionaries(st.sampled_from(["name", "id", "ip"]), scalars, max_size=2)),
                       max_size=4))
def test_alert_field_reads_equal_get_path(doc):
    """alerts._get2 (two-part paths, no split per call) is logwarden.events.get_path."""
    from logwarden.events import get_path
    from logwarden.rules.alerts import _get2
    for dotted in ("host.name", "event.id", "source.ip"):
        top, sub = dotted.split(".")
        assert _get2(doc, dotted, top, sub) == get_path(doc, dotted)


REGEXES = [r"-(W|R)\s?(\s|\"|')([0-9a-fA-F]{2}\s?){2,20}(\s|\"|')", r"^/etc/(passwd|shadow)$", r"a.b", r"(?:x|y)+z",
           r"^ab$", r"\bword\b", r"ä+", r"(a)(b)?", r"\d{3}-\d{2}", r""]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(REGEXES), st.sampled_from(["", "i", "m", "s", "ims"]),
       st.text(alphabet="abxyzAB\n -Ww0af/etcpasshdowä3'\"", max_size=24))
def test_direct_re2_search_equals_the_binding(pattern, flags, text):
    """detection.regex_test (one call into RE2, no capture groups) = re2's search()."""
    from logwarden.rules.detection import compile_regex, regex_test
    rx = compile_regex(pattern, flags, "t")
    assert regex_test(rx)(text) is (rx.search(text) is not None)


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(
        lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z")),
    st.text(alphabet="0123456789-T:.Z²٣ ", min_size=20, max_size=26),
    st.sampled_from(["2026-11-26T10:00:00.123Z", "2026-11-26 10:00:00.123Z", "2026-02-30T10:00:00.123Z",
                     "2026-11-26T10:00:00.1٢3Z", "2026-11-26T24:00:00.000Z", "0001-01-01T00:00:00.000Z",
                     "2026-11-26T1000.000.123Z", "2026-W48-4T10:00:00.123Z", "20261126T100000.000.123Z"])))
def test_event_time_fast_shape_equals_fromisoformat(ts):
    """engine.event_time's cached path for `...T..:..:..mmmZ` = datetime.fromisoformat()."""
    from datetime import datetime
    from logwarden.rules.engine import event_time
    try:
        want = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        want = -1.0
    assert event_time({"@timestamp": ts}, default=-1.0) == want
    assert event_time({"@timestamp": ts}, default=-1.0) == want   # again, from the cache
