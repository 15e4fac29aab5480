"""The live tail's cursor: which matching events became searchable since the last look.

Sans-IO: `poll(search)` is given the search function and returns the new hits in the order
they were indexed. "New" is by `event.ingested` (set by the parser stage when it wrote the
event), not by `@timestamp`: a late line with an old time is still new to the tail. Events
reach the index in batches, and parser workers run side by side, so an event ingested a
moment before one already sent can become searchable after it; the cursor therefore looks
back OVERLAP_S behind the newest `event.ingested` it has seen and remembers the ids it sent
inside that overlap, so each event is sent once.

The SSE id of an event is `<event.ingested>|<event.id>`: a client that reconnects with it
as `Last-Event-ID` gets the events after it, in (event.ingested, event.id) order.
Events without `event.ingested` (not written by the parser stage) are not tailed.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from logwarden.sinks.query import Node, parse
from logwarden.sinks.query.ast import And, MatchAll, Range
from logwarden.sinks.query.timerange import iso_ms

OVERLAP_S = 10.0      # how far behind the newest seen event.ingested an event may still arrive
BATCH = 5000          # hits looked at per poll (a tail is for people; more per second is dropped, counted)
INGESTED = "event.ingested"


def _ingested(doc: dict[str, Any]) -> str | None:
    ev = doc.get("event")
    v = ev.get("ingested") if isinstance(ev, dict) else None
    return v if isinstance(v, str) else None


def _instant(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def event_id_of(doc: dict[str, Any]) -> str:
    """The SSE id of a hit."""
    ev = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    return f"{_ingested(doc) or ''}|{ev.get('id') or ''}"


class BadLastEventId(ValueError):
    pass


class TailCursor:
    def __init__(self, q: str, last_event_id: str | None = None, now: datetime | None = None):
        self.node: Node = parse(q or "")          # QueryError here, before any event is sent
        self.seen: dict[str, datetime] = {}       # event.id -> its event.ingested, inside the overlap
        self.newest = now or datetime.now(timezone.utc)
        self.after: tuple[datetime, str] | None = None
        self.primed = False
        self.dropped = 0
        if last_event_id:
            ingested, sep, eid = last_event_id.partition("|")
            t = _instant(ingested) if sep else None
            if t is None:
                raise BadLastEventId(f"Last-Event-ID: expected <event.ingested>|<event.id> as sent, got {last_event_id[:80]!r}")
            self.newest, self.after, self.primed = t, (t, eid), True

    def _query(self) -> Node:
        since = Range(INGESTED, iso_ms(self.newest - timedelta(seconds=OVERLAP_S)), None, True, True)
        return since if isinstance(self.node, MatchAll) else And((self.node, since))

    def poll(self, search: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
        """The new matching events, oldest ingested first; the first poll of a new tail only
        notes what is already searchable (a tail shows what comes next, not the past)."""
        res = search(self._query(), limit=BATCH)
        hits = res["hits"]
        if res["total"] > len(hits):
            self.dropped += res["total"] - len(hits)
        fresh = []
        for doc in hits:
            ing = _ingested(doc)
            t = _instant(ing) if ing else None
            if t is None:
                continue
            ev = doc.get("event") if isinstance(doc.get("event"), dict) else {}
            eid = str(ev.get("id") or "")
            if eid in self.seen:
                continue
            if self.after is not None and (t, eid) <= self.after:
                continue
            self.seen[eid] = t
            fresh.append((t, eid, doc))
        if fresh:
            self.newest = max(self.newest, max(t for t, _, _ in fresh))
        horizon = self.newest - timedelta(seconds=OVERLAP_S)
        self.seen = {k: t for k, t in self.seen.items() if t >= horizon}
        if not self.primed:
            self.primed = True
            return []
        fresh.sort(key=lambda x: (x[0], x[1]))
        return [doc for _, _, doc in fresh]
