"""Sigma correlation rules evaluated on a stream of rule matches (sans-IO).

Every match of a rule that a correlation references is fed here with its event time.
State is kept per correlation and per group (the values of the `group-by` fields):

    group state = deque of entries (time, source rule, events, value) within `timespan`

Windows slide on *event time* (`@timestamp`), not arrival time: an entry older than the
newest time seen in its group minus `timespan` is dropped. Two evaluation modes follow
from the condition:

* lower-bounded conditions (`gt`, `gte` only) fire as soon as the sliding window holds,
  which is the moment a brute force becomes visible (a burst that straddles a minute
  boundary included, which tumbling windows would miss); the group then starts afresh.
  While the alert that detection opened is active (episodes.py), further matches of the
  group are handed on as continuations of it instead of being counted again, so one attack
  stays one alert however long it lasts;
* conditions with an upper bound (`lt`, `lte`, `eq`, `neq`, or a range) can only be decided
  when a window closes: the window opens at a group's first entry and closes `timespan`
  later (checked on the next entry or on `tick(now)`), then the next window opens.

Types: event_count (entries), value_count (distinct values of condition.field),
temporal (distinct referenced rules seen; default condition: all of them),
temporal_ordered (the referenced rules matched in the listed order), value_sum,
value_avg, and value_percentile (the share, in percent, of the window's entries carrying
the newest entry's value - so `lte: 1` finds values rarer than 1 %; this reading of the
v2.1 text is ours). A correlation's own hits (not continuations) feed correlations that
reference it. `snapshot()`/`restore()` carry every group's window through JSON, which is how
the stage checkpoints it (service.py).
"""
from __future__ import annotations

import operator
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .compiler import Correlation
from .episodes import hashable as _hashable

# Per-group memory bound: a window keeps at most this many entries (oldest dropped first).
MAX_ENTRIES = 10_000

_OPS = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq, "neq": operator.ne}


@dataclass
class Hit:
    """A rule or correlation match: what an alert is made from."""

    doc: Any  # SigmaDoc
    kind: str  # "rule" | "correlation"
    events: list[tuple[Any, dict]]  # (ref, event document) - ref is caller-defined (line number, offset)
    first_ts: float
    last_ts: float
    count: int
    group: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    corr: Any = None  # the Correlation that made a correlation hit
    # A match of a group whose alert episode is open (episodes.py): it updates that alert
    # instead of being counted towards a new detection.
    continuation: bool = False


@dataclass
class _Entry:
    ts: float
    source: str
    events: list[tuple[Any, dict]]
    value: Any


class _Group:
    __slots__ = ("entries", "start", "last", "fed")

    def __init__(self) -> None:
        self.entries: deque[_Entry] = deque()
        self.start: float | None = None
        self.last = 0.0
        self.fed = 0.0  # monotonic time of the last entry's arrival


class _State:
    def __init__(self, corr: Correlation):
        self.corr = corr
        self.groups: dict[tuple, _Group] = {}
        self.immediate = set(corr.condition) <= {"gt", "gte"}
        self.order = [r.doc.id for r in corr.refs]
        self.checks = tuple((_OPS[k], v) for k, v in corr.condition.items())

    def holds(self, x: float) -> bool:
        for op, v in self.checks:
            if not op(x, v):
                return False
        return True

    def measure(self, entries: "list[_Entry] | deque[_Entry]") -> float | None:
        t = self.corr.type
        if t == "event_count":
            return float(len(entries))
        if t == "value_count":
            return float(len({_hashable(e.value) for e in entries if e.value is not None}))
        if t == "temporal":
            return float(len({e.source for e in entries}))
        if t == "temporal_ordered":
            return float(self._ordered(entries))
        nums = [n for n in (_num(e.value) for e in entries) if n is not None]
        if t == "value_sum":
            return float(sum(nums))
        if t == "value_avg":
            return sum(nums) / len(nums) if nums else None
        if t == "value_percentile":
            last = entries[-1].value if entries else None
            if last is None:
                return None
            same = sum(1 for e in entries if e.value == last)
            return 100.0 * same / len(entries)
        return None

    def _ordered(self, entries: list[_Entry]) -> int:
        """Length of the longest prefix of `rules` matched in order (earliest-first greedy)."""
        want = 0
        last_ts = float("-inf")
        for e in sorted(entries, key=lambda e: e.ts):
            if want < len(self.order) and e.source == self.order[want] and e.ts >= last_ts:
                want += 1
                last_ts = e.ts
        return want


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _first(lookup: dict, names: list[str]) -> Any:
    for n in names:
        v = lookup.get(n)
        if v is not None:
            return v
    return None


class Correlator:
    """Feeds rule matches through every correlation that references them.

    `episodes` (episodes.Episodes, optional) is asked, for a standalone correlation with a
    lower-bounded condition, whether the group's alert is still open: if so the match is
    handed on as a continuation of that alert and not counted towards a new detection, which
    is what keeps one attack one alert instead of one per `condition` events.
    """

    def __init__(self, correlations: list[Correlation], episodes: Any = None,
                 clock: Callable[[], float] = time.monotonic):
        """`clock`: arrival time, which decides when an idle group may be forgotten (tick)."""
        self.episodes = episodes
        self.clock = clock
        self.states = [_State(c) for c in correlations]
        self.by_source: dict[str, list[_State]] = {}
        for st in self.states:
            for ref in st.corr.refs:
                self.by_source.setdefault(ref.doc.id, []).append(st)

    def wants(self, source_id: str) -> bool:
        return source_id in self.by_source

    def feed(self, source_id: str, ts: float, lookup: dict, events: list[tuple[Any, dict]]) -> list[Hit]:
        """One match of rule `source_id`; `lookup` maps field names to values (a flat event)."""
        out: list[Hit] = []
        for st in self.by_source.get(source_id, ()):
            corr = st.corr
            cands = corr.group_fields.get(source_id, [])
            key = tuple(_hashable(_first(lookup, c)) for c in cands)
            value = _first(lookup, corr.value_fields[source_id]) if corr.value_fields else None
            if (self.episodes is not None and st.immediate and corr.standalone
                    and self.episodes.active(corr.doc, corr, _group(st, key), ts)):
                out.append(Hit(corr.doc, "correlation", events, ts, ts, len(events), _group(st, key), None, corr, True))
                continue
            g = st.groups.get(key)
            if g is None:
                g = st.groups[key] = _Group()
            if not st.immediate and g.start is not None and ts > g.start + corr.timespan:
                out += self._close(st, key, g, ts)
            g.entries.append(_Entry(ts, source_id, events, value))
            g.fed = self.clock()
            if len(g.entries) > MAX_ENTRIES:
                g.entries.popleft()
            g.last = max(g.last, ts)
            if g.start is None or (not st.immediate and ts < g.start):
                g.start = ts if g.start is None else min(g.start, ts)
            if st.immediate:
                horizon = g.last - corr.timespan
                while g.entries and g.entries[0].ts < horizon:
                    g.entries.popleft()
                m = st.measure(g.entries)
                if m is not None and st.holds(m):
                    out.append(self._hit(st, key, list(g.entries), m))
                    del st.groups[key]
        # Chained correlations: a correlation's hit is a match of that correlation.
        return out + self._chain(out)

    def _chain(self, hits: list[Hit]) -> list[Hit]:
        """Chained correlations: a correlation's detection is a match of that correlation."""
        chained: list[Hit] = []
        for h in hits:
            if not h.continuation and self.wants(h.doc.id):
                chained += self.feed(h.doc.id, h.last_ts, dict(h.group), h.events)
        return chained

    def _close(self, st: _State, key: tuple, g: _Group, now: float) -> list[Hit]:
        """Decide every window of `g` that ended before `now` (upper-bounded conditions)."""
        out = []
        span = st.corr.timespan
        while g.start is not None and now > g.start + span:
            end = g.start + span
            inside = [e for e in g.entries if e.ts <= end]
            m = st.measure(inside)
            if inside and m is not None and st.holds(m):
                out.append(self._hit(st, key, inside, m))
            rest = deque(e for e in g.entries if e.ts > end)
            g.entries = rest
            g.start = rest[0].ts if rest else None
        return out

    def tick(self, now: float) -> list[Hit]:
        """Close windows that ended before `now` and forget idle groups (call periodically).

        A lower-bounded group is only memory: its old entries go on its next feed anyway. It
        is forgotten when `now` (event time) is past its window *and* nothing arrived for it
        for a timespan of arrival time. Event time alone is not enough: a watermark that ran
        ahead (the wall clock after an idle stream, a newer partition read first, a host with
        a slow clock) would forget a backlog's brute force between two batches of its events.
        """
        arrived = self.clock()
        out: list[Hit] = []
        for st in self.states:
            span = st.corr.timespan
            for key, g in list(st.groups.items()):
                if st.immediate:
                    if g.last < now - span and arrived - g.fed > span:
                        del st.groups[key]
                elif g.start is not None and now > g.start + span:
                    out += self._close(st, key, g, now)
                if not g.entries:
                    st.groups.pop(key, None)
        return out + self._chain(out)

    def snapshot(self) -> dict[str, list]:
        """Every group's window as JSON-able data: {correlation id: [[key, start, last, entries]]}."""
        out: dict[str, list] = {}
        for st in self.states:
            rows = [[list(key), g.start, g.last, [[e.ts, e.source, [[r, d] for r, d in e.events], e.value] for e in g.entries]]
                    for key, g in st.groups.items() if g.entries]
            if rows:
                out[st.corr.doc.id] = rows
        return out

    def restore(self, data: dict[str, list]) -> None:
        """Windows from `snapshot()`; those of correlations no longer loaded are dropped."""
        for st in self.states:
            for key, start, last, entries in data.get(st.corr.doc.id, ()):
                g = st.groups[tuple(_hashable(k) for k in key)] = _Group()
                g.start, g.last = start, last
                g.fed = self.clock()  # restored windows count as just arrived: a backlog follows
                g.entries = deque(_Entry(ts, src, [(tuple(r) if isinstance(r, list) else r, d) for r, d in evs], v)
                                  for ts, src, evs, v in entries)

    @staticmethod
    def _hit(st: _State, key: tuple, entries: list[_Entry], m: float) -> Hit:
        events = [ev for e in entries for ev in e.events]
        return Hit(st.corr.doc, "correlation", events, min(e.ts for e in entries), max(e.ts for e in entries),
                   len(events), _group(st, key), m, st.corr)


def _group(st: _State, key: tuple) -> dict[str, Any]:
    return {name: (list(v) if isinstance(v, tuple) else v) for name, v in zip(st.corr.group_by, key)}
