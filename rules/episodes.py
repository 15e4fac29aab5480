"""Alert episodes: one alert per attack, updated in place (sans-IO).

Detection (engine.py, correlation.py) says *that* something matched; this module decides
*which alert* a match belongs to. An episode is the life of one alert of one rule for one
suppression key (the values of its `by` fields):

    (none) ──hit──► active ──hit of the same key, within `window` of the last one──► active
                      │                                   (count, last_seen, ids, latest event)
                      └──watermark passes last + window, no hit──► recovered (final version)

(For a correlation with an upper bound, decided only when its window closes, the episode
waits one timespan longer: a window opened within `window` of its last event is decided then.)

Only a hit after the episode recovered opens a new one. Times are event times (`@timestamp`)
and the watermark is the newest event time the stage has seen, so a replay of the same
events gives the same episodes; the alert id is (rule id, key values, episode start), so it
gives the same ids too. Every change bumps `version`; `drain()` hands the changed episodes
out once per batch (the stage produces one alert version per episode and batch, keyed by
id, and the index keeps the latest).

Suppression settings, most specific first: the rule's own `suppression: {window, by}` (a
custom attribute, as Sigma allows), then the first matching entry of `rules.suppress`, then
`rules.suppression` (global). Defaults: a correlation's `by` is its group-by (a subset may
be named) and its window its own timespan; a single-event rule's `by` is `[host.name]` and
its window 10m (`rules.suppression.window` changes both defaults' window).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from logwarden.durations import parse_duration
from logwarden.events import event_id, get_path

ACTIVE, RECOVERED = "active", "recovered"  # Elastic's alert.status vocabulary
MAX_EVENTS = 10        # first matching events embedded in an alert (the contract's "up to 10")
MAX_EVENT_IDS = 1000   # ids listed; the count stays exact
MAX_VALUES = 100       # distinct values of a copied field listed in a correlation alert
DEFAULT_RULE_BY = ["host.name"]  # a single-event rule's alerts are about a host
DEFAULT_RULE_WINDOW_S = 600.0
# Copied to the alert's top level (ECS names and their two parts).
COPIED = (("host.name", "host", "name"), ("source.ip", "source", "ip"), ("user.name", "user", "name"))


@dataclass
class Suppression:
    """A rule's own `suppression:` key; None means "not said here"."""

    window: float | None = None
    by: list[str] | None = None


def parse_suppression(v: Any) -> Suppression:
    """The rule YAML's `suppression: {window: 10m, by: [source.ip]}`; ValueError says what is wrong."""
    if not isinstance(v, dict):
        raise ValueError("suppression must be a mapping such as {window: 10m, by: [source.ip]}")
    unknown = set(v) - {"window", "by"}
    if unknown:
        raise ValueError(f"suppression: unknown key(s) {', '.join(sorted(map(str, unknown)))}; use window and by")
    out = Suppression()
    if "window" in v:
        out.window = parse_duration(str(v["window"])).total_seconds()
        if out.window <= 0:
            raise ValueError("suppression window must be longer than 0s")
    if "by" in v:
        by = v["by"]
        if isinstance(by, str):
            by = [by]
        if not isinstance(by, list) or not all(isinstance(b, str) and b for b in by):
            raise ValueError("suppression by must be a list of field names, e.g. [source.ip]")
        out.by = list(by)
    return out


def hashable(v: Any) -> Any:
    """A group value as a dict key: lists become tuples, objects sorted tuples of pairs."""
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, hashable(x)) for k, x in v.items()))
    return v


def event_ident(doc: dict) -> str:
    """The event's `event.id`, or an id from its content when it has none."""
    eid = get_path(doc, "event.id")
    if eid:
        return str(eid)
    import orjson
    return event_id("doc", orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode())


@dataclass
class Episode:
    """One alert's state. `doc` is the rule's SigmaDoc (not serialised; rebound on restore)."""

    id: str
    rule_id: str
    kind: str  # "rule" | "correlation"
    group: dict[str, Any]
    start: float
    first: float
    last: float
    window: float
    by: list[str]
    count: int = 0
    event_ids: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    latest: dict | None = None
    values: dict[str, list] = field(default_factory=dict)
    value: float | None = None
    status: str = ACTIVE
    version: int = 0
    grace: float = 0.0  # upper-bounded correlations: a window is decided a timespan after it starts
    reported: int = 0  # count in the last version handed out: escalation notices compare with it
    opened_at: float | None = None  # wall-clock time of the first version (event.created)
    doc: Any = field(default=None, repr=False, compare=False)

    def add(self, ts0: float, ts1: float, events: list[tuple[Any, dict]], value: float | None) -> None:
        self.count += len(events)
        self.first = min(self.first, ts0)
        if ts1 >= self.last and events:
            self.latest = events[-1][1]
        self.last = max(self.last, ts1)
        for _, ev in events:
            if len(self.event_ids) < MAX_EVENT_IDS:
                self.event_ids.append(event_ident(ev))
            if len(self.events) < MAX_EVENTS:
                self.events.append(ev)
        if self.kind == "correlation":
            for dotted, _, _ in COPIED:
                if dotted in self.group:
                    continue
                seen = self.values.setdefault(dotted, [])
                for _, ev in events:
                    x = get_path(ev, dotted)
                    for y in x if isinstance(x, list) else (x,):
                        if y is not None and not isinstance(y, (dict, list)) and y not in seen and len(seen) < MAX_VALUES:
                            seen.append(y)
        if value is not None:
            self.value = value

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "doc"}

    @classmethod
    def from_json(cls, d: dict[str, Any], doc: Any) -> "Episode":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "doc"}, doc=doc)


def _rule_matches(pattern: str, doc: Any) -> bool:
    return pattern == "*" or any(fnmatch.fnmatchcase(str(x), pattern) for x in (doc.id, doc.title, doc.name) if x)


class Episodes:
    """Open episodes by (rule id, key), fed with hits, expired by the watermark."""

    def __init__(self, suppress: list[tuple[str, list[str], float]] | None = None, window: float | None = None,
                 by: list[str] | None = None):
        """`suppress`: rules.suppress as (rule pattern, by, window s); `window`/`by`: rules.suppression."""
        self.suppress = suppress or []
        self.window = window
        self.by = by
        self.open: dict[tuple, Episode] = {}
        self.changed: dict[str, Episode] = {}
        self._settings: dict[str, tuple[float, list[str]]] = {}

    def settings(self, doc: Any, corr: Any = None) -> tuple[float, list[str]]:
        """(window s, by fields) for a rule document (cached per rule id)."""
        got = self._settings.get(doc.id)
        if got is not None:
            return got
        own: Suppression = getattr(doc, "suppression", None) or Suppression()
        window, by = own.window, own.by
        for pattern, s_by, s_window in self.suppress:
            if _rule_matches(pattern, doc):
                window = s_window if window is None else window
                by = (s_by or None) if by is None else by
                break
        if window is None:
            window = self.window if self.window is not None else (corr.timespan if corr is not None else DEFAULT_RULE_WINDOW_S)
        if corr is not None:
            # A correlation groups by its group-by; a coarser key (a subset) may be named.
            by = [b for b in (by or corr.group_by) if b in corr.group_by] or list(corr.group_by)
        elif by is None:
            by = list(self.by) if self.by is not None else list(DEFAULT_RULE_BY)
        got = self._settings[doc.id] = (float(window), by)
        return got

    def _key(self, doc: Any, group: dict[str, Any]) -> tuple:
        return (doc.id, tuple(hashable(v) for v in group.values()))

    def active(self, doc: Any, corr: Any, group: dict[str, Any], ts: float) -> bool:
        """Is an episode of this correlation open for `group` at event time `ts`? (correlator hook)"""
        _, by = self.settings(doc, corr)
        ep = self.open.get(self._key(doc, {b: group.get(b) for b in by}))
        return ep is not None and ts <= ep.last + ep.window

    def observe(self, hit: Any, corr: Any = None) -> Episode:
        """Fold one hit into its episode (opening one when none is active); returns it."""
        doc = hit.doc
        window, by = self.settings(doc, corr)
        if hit.kind == "rule":
            ev = hit.events[0][1] if hit.events else {}
            group = {b: get_path(ev, b) for b in by}
        else:
            group = {b: hit.group.get(b) for b in by}
        key = self._key(doc, group)
        ep = self.open.get(key)
        if ep is not None and hit.first_ts > ep.last + ep.window:
            self._recover(key, ep)
            ep = None
        if ep is None:
            start = hit.first_ts
            aid = event_id("alert", doc.id, sorted((k, str(v)) for k, v in group.items()), f"{start:.3f}")
            # A correlation with an upper bound (`lt`, `eq`, ...) decides a window only when it
            # closes, a timespan after it opened: a window that opened within `window` of the
            # last event may still be decided that much later, so the episode waits for it.
            grace = corr.timespan if corr is not None and not set(corr.condition) <= {"gt", "gte"} else 0.0
            ep = self.open[key] = Episode(aid, doc.id, hit.kind, group, start, start, start, window, by, grace=grace, doc=doc)
        ep.add(hit.first_ts, hit.last_ts, hit.events, hit.value)
        ep.version += 1
        self.changed[ep.id] = ep
        return ep

    def _recover(self, key: tuple, ep: Episode) -> None:
        del self.open[key]
        ep.status = RECOVERED
        ep.version += 1
        self.changed[ep.id] = ep

    def expire(self, now: float) -> None:
        """Recover every episode whose window passed without a hit by event time `now`."""
        for key, ep in list(self.open.items()):
            if now > ep.last + ep.window + ep.grace:
                self._recover(key, ep)

    def drain(self) -> list[Episode]:
        """Episodes changed since the last drain, each once, oldest change first."""
        out = list(self.changed.values())
        self.changed = {}
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        return [ep.to_json() for ep in self.open.values()]

    def restore(self, data: list[dict[str, Any]], docs: dict[str, Any]) -> None:
        """Open episodes from `snapshot()`; those of rules no longer loaded are dropped."""
        for d in data:
            doc = docs.get(d.get("rule_id"))
            if doc is None:
                continue
            ep = Episode.from_json(d, doc)
            self.open[self._key(doc, ep.group)] = ep


def suppress_entries(entries: list[Any]) -> list[tuple[str, list[str], float]]:
    """rules.suppress as (rule pattern, by, window seconds)."""
    return [(s.rule, list(s.group_by), parse_duration(s.window).total_seconds()) for s in entries]


__all__ = ["ACTIVE", "RECOVERED", "Episode", "Episodes", "Suppression", "hashable", "parse_suppression",
           "suppress_entries", "event_ident"]
