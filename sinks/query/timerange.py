"""A search's time window: `since`, `from`/`to` and the query's own `@timestamp` ranges.

The API and the CLI take `since=15m` (the last 15 minutes), or `from=`/`to=` as ISO 8601
or date math (`now-15m`, `now-1d/d`), as Kibana's time picker does. Both are resolved here
once, against one `now`, into absolute instants, so the two backends filter on the same
instants (Elasticsearch gets the resolved ISO strings, not the date math).

The query may constrain @timestamp as well (`@timestamp >= now-15m`): the filter is the AND
of both, which is what a user means. `query_bounds` finds those constraints where they
apply to every hit (top level, or directly under a top-level AND) so the histogram spans
the intersection instead of the whole picker range, and so only the partitions a search
can touch need be opened.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import datemath, fields
from .ast import And, Node, Range


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end] (both inclusive, either open): what `from`, `to` and `since` resolve to."""
    start: datetime | None = None
    end: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.start is not None and self.end is not None and self.start > self.end

    def intersect(self, other: "Window") -> "Window":
        start = max((t for t in (self.start, other.start) if t is not None), default=None)
        end = min((t for t in (self.end, other.end) if t is not None), default=None)
        return Window(start, end)


def resolve(since: timedelta | None = None, from_: str | None = None, to: str | None = None,
            now: datetime | None = None) -> Window:
    """The absolute window; ValueError (naming the parameter) when a bound does not parse."""
    now = now or datetime.now(timezone.utc)
    if since is not None and from_:
        raise ValueError("since and from: give one of them (since=15m is from=now-15m)")
    start = end = None
    if since is not None:
        start = now - since
    if from_:
        try:
            start = datemath.parse(from_, now)
        except ValueError as exc:
            raise ValueError(f"from: {exc}") from None
    if to:
        try:
            end = datemath.parse(to, now, round_up=True)   # to=2026-12-07 includes that whole day
        except ValueError as exc:
            raise ValueError(f"to: {exc}") from None
    w = Window(start, end)
    if w.empty:
        raise ValueError(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    return w


def query_bounds(node: Node, now: datetime) -> Window:
    """The @timestamp window every hit of `node` lies in, as far as the top-level ANDed
    ranges say (an OR or NOT says nothing about every hit, so it is not looked into)."""
    w = Window()
    for child in (node.children if isinstance(node, And) else (node,)):
        if isinstance(child, Range) and child.field == fields.TIMESTAMP:
            lo = None if child.lower is None else datemath.parse(child.lower, now, round_up=not child.include_lower)
            hi = None if child.upper is None else datemath.parse(child.upper, now, round_up=child.include_upper)
            w = w.intersect(Window(lo, hi))
    return w


def iso_ms(t: datetime) -> str:
    """An instant as Elasticsearch's strict_date_optional_time with milliseconds, UTC."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# Histogram intervals a person reads at a glance (Kibana's auto interval picks from a
# similar ladder): the smallest one that gives at most the wanted number of buckets.
READABLE_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BUCKETS = 2000


def readable_interval_ms(span_ms: int, buckets: int) -> int:
    """About `buckets` buckets over `span_ms`: 1 s ... 1 d from READABLE_S, then whole days.
    1 % slack: a range of "2 h" measured a millisecond late still gets 2-minute buckets."""
    want_s = max(1.0, span_ms / max(1, buckets) / 1000 * 0.99)
    for s in READABLE_S:
        if s >= want_s:
            return s * 1000
    return int(-(-want_s // 86400)) * 86_400_000
