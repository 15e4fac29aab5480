"""Alert documents, and the policy deciding which hits become alerts (sans-IO).

An alert is one JSON document on the `alerts` topic (shape fixed in the contracts):
`event.kind: alert`, a deterministic `event.id`, `event.severity` 21/47/73/99 for
low/medium/high/critical (informational 0), `rule.*` from the Sigma document - including
`rule.author`, which the DRL 1.1 requires in every alert a SigmaHQ rule produces - and
`alert.*`: level, count, first/last seen, the correlation group, matching event ids, up to
`MAX_EVENTS` matching events, a search `query` that finds them and a `url` into the UI.
`host.name`, `source.ip` and `user.name` are copied to the top: from the event for a rule
alert; for a correlation alert the group's value when the field is a group-by field, else
the list of distinct values its events had (absent when none had one).

Ids are deterministic so replays collapse: a single-event alert is (rule id, event.id); a
correlation alert is (correlation id, group, ids of its events). `AlertPolicy` then applies,
in order: the minimum level, dedup (an id already raised within `dedup_window`), and
suppression windows keyed by rule and group-by field values. Suppressed alerts are counted
and the count rides on the next alert raised for the same key (`alert.suppressed`).
"""
from __future__ import annotations

import fnmatch
from collections import OrderedDict
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from logwarden.durations import parse_duration
from logwarden.events import event_id, get_path

from .config import RulesConfig
from .correlation import Hit

SEVERITY = {"informational": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
LEVEL_RANK = {name: i for i, name in enumerate(SEVERITY)}
DEFAULT_LEVEL = "medium"  # a rule without `level` is treated as medium
MAX_EVENTS = 10           # matching events embedded in an alert (the contract's "up to 10")
MAX_EVENT_IDS = 1000      # ids listed; the count stays exact
MAX_QUERY_IDS = 50        # ids named in alert.query (keeps the query string short)
MAX_VALUES = 100          # distinct values of a copied field listed in a correlation alert
DEDUP_CAPACITY = 100_000  # ids remembered for dedup; oldest forgotten first


@lru_cache(maxsize=4096)
def _iso(ts: float) -> str:
    # Memoised: `now` repeats for every alert of a batch, an event's time for first/last seen.
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event_ident(doc: dict) -> str:
    eid = _get2(doc, "event.id", "event", "id")
    if eid:
        return str(eid)
    import orjson
    return event_id("doc", orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode())


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


_COPIED = (("host.name", "host", "name"), ("source.ip", "source", "ip"), ("user.name", "user", "name"))


def build_alert(hit: Hit, now: float, base_url: str = "") -> dict[str, Any]:
    doc = hit.doc
    rule, level, severity = _rule_part(doc)
    ids = [_event_ident(ev) for _, ev in hit.events]
    if hit.kind == "rule":
        aid = event_id("alert", doc.id, ids[0] if ids else "")
    else:
        aid = event_id("alert", doc.id, sorted(hit.group.items()), *ids)
    query = " OR ".join(f"event.id:{_quote(i)}" for i in ids[:MAX_QUERY_IDS])
    created = _iso(now)
    first = _iso(hit.first_ts)
    alert: dict[str, Any] = {
        "@timestamp": created,
        "event": {"kind": "alert", "id": aid, "severity": severity, "created": created},
        "rule": rule | {"reference": list(rule["reference"])},
        "tags": list(doc.tags),
        "alert": {"level": level, "count": hit.count, "first_seen": first,
                  "last_seen": first if hit.last_ts == hit.first_ts else _iso(hit.last_ts),
                  "group": hit.group, "event_ids": ids[:MAX_EVENT_IDS],
                  "events": [ev for _, ev in hit.events[:MAX_EVENTS]], "query": query,
                  "url": f"{base_url.rstrip('/')}/?q={quote(query)}" if base_url else ""},
    }
    if doc.kind == "correlation":
        alert["alert"]["correlation"] = {"type": (doc.data.get("correlation") or {}).get("type"),
                                         "timespan": (doc.data.get("correlation") or {}).get("timespan"),
                                         "value": hit.value}
    if hit.kind == "rule":
        if hit.events:
            ev = hit.events[0][1]
            for dotted, top, sub in _COPIED:
                v = _get2(ev, dotted, top, sub)
                if v is not None:
                    alert.setdefault(top, {})[sub] = v
        return alert
    # A correlation is about its group, not about any one event: a group-by field carries the
    # group's value; another copied field the values its events had (sorted, at most
    # MAX_VALUES), or nothing when none had one - not the first event's, which read as if
    # that one user were the target of a brute force.
    for dotted, top, sub in _COPIED:
        if dotted in hit.group:
            v = hit.group[dotted]
        else:
            seen: dict[str, Any] = {}
            for _, ev in hit.events:
                x = _get2(ev, dotted, top, sub)
                for y in x if isinstance(x, list) else (x,):
                    if y is not None and not isinstance(y, (dict, list)):
                        seen.setdefault(str(y), y)
            v = [seen[k] for k in sorted(seen)[:MAX_VALUES]] or None
        if v is not None:
            alert.setdefault(top, {})[sub] = v
    return alert


class AlertPolicy:
    """Minimum level, dedup by alert id, and suppression windows (all in event-time seconds)."""

    def __init__(self, cfg: RulesConfig):
        self.min_rank = LEVEL_RANK[cfg.min_level]
        self.dedup_s = parse_duration(cfg.dedup_window).total_seconds()
        self.suppress = [(s.rule, list(s.group_by), parse_duration(s.window).total_seconds()) for s in cfg.suppress]
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.windows: dict[tuple, float] = {}
        self.suppressed: dict[tuple, int] = {}
        self.stats = {"raised": 0, "below_level": 0, "duplicate": 0, "suppressed": 0}

    def _rule_matches(self, pattern: str, alert: dict) -> bool:
        r = alert["rule"]
        return any(fnmatch.fnmatchcase(str(x), pattern) for x in (r["id"], r["name"]) if x) or pattern == "*"

    def admit(self, alert: dict, now: float) -> bool:
        if LEVEL_RANK.get(alert["alert"]["level"], 2) < self.min_rank:
            self.stats["below_level"] += 1
            return False
        aid = alert["event"]["id"]
        seen = self.seen.get(aid)
        if seen is not None and now - seen < self.dedup_s:
            self.stats["duplicate"] += 1
            return False
        for pattern, group_by, window in self.suppress:
            if not self._rule_matches(pattern, alert):
                continue
            events = alert["alert"]["events"]
            values = []
            for f in group_by:
                v = alert["alert"]["group"].get(f)
                if v is None and events:
                    v = get_path(events[0], f)
                values.append(str(v))
            key = (alert["rule"]["id"], pattern, tuple(values))
            until = self.windows.get(key)
            if until is not None and now < until:
                self.suppressed[key] = self.suppressed.get(key, 0) + 1
                self.stats["suppressed"] += 1
                return False
            self.windows[key] = now + window
            n = self.suppressed.pop(key, 0)
            if n:
                alert["alert"]["suppressed"] = n
            break
        self.seen[aid] = now
        self.seen.move_to_end(aid)
        while len(self.seen) > DEDUP_CAPACITY:
            self.seen.popitem(last=False)
        self.stats["raised"] += 1
        return True

    def expire(self, now: float) -> None:
        """Forget suppression windows that ended (call periodically)."""
        for key, until in list(self.windows.items()):
            if until <= now and key not in self.suppressed:
                del self.windows[key]
