"""Alert documents, and the policy deciding which matches count towards alerts (sans-IO).

An alert is one JSON document on the `alerts` topic (shape fixed in the contracts):
`event.kind: alert`, a stable `event.id`, `event.severity` 21/47/73/99 for
low/medium/high/critical (informational 0), `rule.*` from the Sigma document - including
`rule.author`, which the DRL 1.1 requires in every alert a SigmaHQ rule produces - and
`alert.*`: level, status (active|recovered), version, count, first/last seen, the group,
matching event ids, the first `MAX_EVENTS` matching events and the latest one, a search
`query` that finds them and a `url` into the UI.
`host.name`, `source.ip` and `user.name` are copied to the top: from the first event for a
rule alert; for a correlation alert the group's value when the field is a group-by field,
else the list of distinct values its events had (absent when none had one).

An alert is an episode (episodes.py): one per rule and suppression key while matches keep
arriving; every version of it carries the same id (rule, key, episode start), so the
index, which writes by `event.id`, keeps the latest. `AlertPolicy` holds back matches below
the minimum level and matching events already counted (by `event.id`, within
`dedup_window`), so a replayed event does not count twice.
"""
from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from logwarden.durations import parse_duration
from .config import RulesConfig
from .episodes import COPIED, MAX_EVENT_IDS, MAX_EVENTS, RECOVERED, Episode, event_ident

SEVERITY = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
LEVEL_RANK = {name: i for i, name in enumerate(SEVERITY)}
DEFAULT_LEVEL = "medium"  # a rule without `level` is treated as medium
MAX_QUERY_IDS = 50        # ids named in alert.query (keeps the query string short)
DEDUP_CAPACITY = 100_000  # matched event ids remembered for dedup; oldest forgotten first


@lru_cache(maxsize=4096)
def _iso(ts: float) -> str:
    # Memoised: `now` repeats for every alert of a batch, an event's time for first/last seen.
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def category(doc: Any) -> str:
    if doc.kind == "correlation":
        return f"correlation/{(doc.data.get('correlation') or {}).get('type', '')}"
    ls = doc.logsource
    parts = [str(ls[k]) for k in ("product", "category", "service") if ls.get(k)]
    return "/".join(parts) or "any"


def _quote(v: Any) -> str:
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule_part(doc: Any) -> tuple[dict[str, Any], str, int]:
    """The alert fields that depend on the rule alone, built once per rule document:
    (`rule` object, level, severity). Callers copy the object before handing it out."""
    cached = doc.alert_cache
    if cached is None:
        level = doc.level or DEFAULT_LEVEL
        refs = doc.data.get("references") or doc.data.get("reference") or []
        rule = {"id": doc.id, "name": doc.title, "description": str(doc.data.get("description") or "").strip(),
                "author": doc.author, "reference": [str(r) for r in refs] if isinstance(refs, list) else [str(refs)],
                "ruleset": "sigma", "category": category(doc)}
        if doc.data.get("license"):
            rule["license"] = str(doc.data["license"])
        if doc.data.get("modified") or doc.data.get("date"):
            rule["version"] = str(doc.data.get("modified") or doc.data.get("date"))
        cached = doc.alert_cache = (rule, level, SEVERITY.get(level, 47))
    return cached


def _get2(doc: dict, dotted: str, top: str, sub: str) -> Any:
    """`get_path(doc, "top.sub")` for a two-part path, without splitting it per call."""
    if dotted in doc:
        return doc[dotted]
    t = doc.get(top)
    return t.get(sub) if isinstance(t, dict) else None


def build_alert(ep: Episode, now: float, base_url: str = "") -> dict[str, Any]:
    """The alert document of episode `ep`'s current version (`now`: wall-clock time)."""
    doc = ep.doc
    rule, level, severity = _rule_part(doc)
    ids = ep.event_ids
    query = " OR ".join(f"event.id:{_quote(i)}" for i in ids[:MAX_QUERY_IDS])
    if ep.opened_at is None:
        ep.opened_at = now
    first = _iso(ep.first)
    last = first if ep.last == ep.first else _iso(ep.last)
    group = {k: v for k, v in ep.group.items() if v is not None}
    al: dict[str, Any] = {
        "level": level, "status": ep.status, "version": ep.version, "count": ep.count,
        "first_seen": first, "last_seen": last, "group": group, "event_ids": ids[:MAX_EVENT_IDS],
        "events": ep.events[:MAX_EVENTS], "query": query,
        "url": f"{base_url.rstrip('/')}/?q={quote(query)}" if base_url else "",
        "suppression": {"window_s": ep.window, "by": list(ep.by)},
    }
    if ep.latest is not None and ep.count > len(ep.events):
        al["latest_event"] = ep.latest  # the newest match, when it is not among `events`
    if ep.status == RECOVERED:
        al["end"] = _iso(ep.last + ep.window + ep.grace)
    alert: dict[str, Any] = {
        "@timestamp": _iso(now),
        "event": {"kind": "alert", "id": ep.id, "severity": severity, "created": _iso(ep.opened_at)},
        "rule": rule | {"reference": list(rule["reference"])},
        "tags": list(doc.tags),
        "alert": al,
    }
    if doc.kind == "correlation":
        al["correlation"] = {"type": (doc.data.get("correlation") or {}).get("type"),
                             "timespan": (doc.data.get("correlation") or {}).get("timespan"),
                             "value": ep.value}
    if ep.kind == "rule":
        ev = ep.events[0] if ep.events else {}
        for dotted, top, sub in COPIED:
            v = _get2(ev, dotted, top, sub)
            if v is not None:
                alert.setdefault(top, {})[sub] = v
        return alert
    # A correlation is about its group, not about any one event: a group-by field carries the
    # group's value; another copied field the values its events had (sorted, at most
    # MAX_VALUES), or nothing when none had one - not the first event's, which read as if
    # that one user were the target of a brute force.
    for dotted, top, sub in COPIED:
        if dotted in ep.group:
            v = ep.group[dotted]
        else:
            seen = {str(y): y for y in ep.values.get(dotted, ())}
            v = [seen[k] for k in sorted(seen)] or None
        if v is not None:
            alert.setdefault(top, {})[sub] = v
    return alert


class AlertPolicy:
    """Minimum level and dedup of matching events already counted (wall-clock window)."""

    def __init__(self, cfg: RulesConfig):
        self.min_rank = LEVEL_RANK[cfg.min_level]
        self.dedup_s = parse_duration(cfg.dedup_window).total_seconds()
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.stats = {"raised": 0, "below_level": 0, "duplicate": 0, "suppressed": 0}

    def level_ok(self, doc: Any) -> bool:
        if LEVEL_RANK.get(doc.level or DEFAULT_LEVEL, 2) < self.min_rank:
            self.stats["below_level"] += 1
            return False
        return True

    def fresh(self, doc: dict, now: float) -> bool:
        """False for a matching event whose id was already counted within `dedup_window`."""
        eid = event_ident(doc)
        seen = self.seen.get(eid)
        if seen is not None and now - seen < self.dedup_s:
            self.stats["duplicate"] += 1
            return False
        self.seen[eid] = now
        self.seen.move_to_end(eid)
        while len(self.seen) > DEDUP_CAPACITY:
            self.seen.popitem(last=False)
        return True
