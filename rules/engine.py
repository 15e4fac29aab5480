"""The matcher: a compiled RuleSet applied to events, with a candidate-rule index.

Evaluating 300 rules on every event would spend most of the time proving that an nginx
line is not a Linux process start. Each compiled rule carries *anchors*: (field, lowered
literal) pairs, at least one of which is present in every event the rule can match (from
an equality in its detection, or failing that from its logsource's pipeline conditions such
as `event.category: web`). The index maps field -> literal -> rule numbers, so one event
costs one dict lookup per indexed field plus the predicates of the few candidate rules.
Rules without anchors (pure `contains`, negations, keyword searches) are always candidates.

`Engine.process(doc, ref)` returns `Hit`s: standalone rule matches, and correlation hits
from the `Correlator`, which receives every match of a rule some correlation references.
`ref` is opaque (a line number for `rules test`, a Kafka offset in the stage).
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from .compiler import RuleSet, Rule
from .correlation import Correlator, Hit
from .detection import prepare


def event_time(doc: dict, default: float | None = None) -> float:
    """Seconds since the epoch from `@timestamp` (ISO 8601 or epoch number)."""
    ts = doc.get("@timestamp")
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    elif isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return float(ts) / 1000.0 if ts > 1e11 else float(ts)
    return time.time() if default is None else default


class Engine:
    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.rules: list[Rule] = ruleset.rules
        self.index: dict[str, dict[str, list[int]]] = {}
        self.always: list[int] = []
        for r in self.rules:
            if r.anchors:
                for f, v in r.anchors:
                    self.index.setdefault(f, {}).setdefault(v, []).append(r.seq)
            else:
                self.always.append(r.seq)
        for vmap in self.index.values():
            for v, seqs in vmap.items():
                vmap[v] = sorted(set(seqs))
        self._index_items = list(self.index.items())
        self.correlator = Correlator(ruleset.correlations)
        # Correlations referenced by another correlation feed it and do not alert themselves.
        self.silent = {c.doc.id for c in ruleset.correlations if not c.standalone}

    def candidates(self, low: dict) -> list[int]:
        cands = set(self.always)
        for f, vmap in self._index_items:
            v = low.get(f)
            if v is None:
                continue
            if v.__class__ is list:
                for x in v:
                    hit = vmap.get(x)
                    if hit:
                        cands.update(hit)
            else:
                hit = vmap.get(v)
                if hit:
                    cands.update(hit)
        return sorted(cands)

    def match(self, doc: dict) -> tuple[dict, list[Rule]]:
        """Rules whose detection matches `doc` (standalone or feeding correlations)."""
        flat, low = prepare(doc)
        rules = self.rules
        return flat, [rules[i] for i in self.candidates(low) if rules[i].fn(flat, low)]

    def process(self, doc: dict, ref: Any = None, ts: float | None = None) -> list[Hit]:
        flat, matched = self.match(doc)
        if not matched:
            return []
        out: list[Hit] = []
        when = event_time(doc) if ts is None else ts
        for r in matched:
            if r.standalone:
                out.append(Hit(r.doc, "rule", [(ref, doc)], when, when, 1))
            if self.correlator.wants(r.doc.id):
                out += [h for h in self.correlator.feed(r.doc.id, when, flat, [(ref, doc)]) if h.doc.id not in self.silent]
        return out

    def tick(self, now: float) -> list[Hit]:
        """Decide correlation windows that ended before `now` (event time)."""
        return [h for h in self.correlator.tick(now) if h.doc.id not in self.silent]
