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
import re2
from re2 import _re2

from .event import FieldPlan, _text, prepare


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


# RE2 Set memory budget. The sets hold only escaped literals (with \\A/\\z), so their DFA
# is about the size of an Aho-Corasick automaton; the budget is generous so the DFA never
# runs out (RE2 would then report no match at all).
SET_MAX_MEM = 256 << 20


class _AtomSet:
    """All substring atoms of one field (one case mode) in one re2 Set: one pass per value."""

    __slots__ = ("field", "cased", "set", "rules")

    def __init__(self, field: str, cased: bool, patterns: dict[str, list[int]]):
        opts = re2.Options()
        opts.max_mem = SET_MAX_MEM
        opts.never_capture = True
        opts.log_errors = False
        self.field, self.cased = field, cased
        self.set = _re2.Set(re2._Anchor.UNANCHORED, opts)
        self.rules: list[list[int]] = []
        for pat, seqs in patterns.items():
            if self.set.Add(pat.encode()) != len(self.rules):
                raise ValueError(f"re2 refused index pattern {pat!r}")
            self.rules.append(seqs)
        if not self.set.Compile():
            raise ValueError(f"re2 could not compile the index set of {field}")

    def hits(self, value: Any, out: set[int]) -> None:
        vals = value if value.__class__ is list else (value,)
        for v in vals:
            if v.__class__ is not str:
                v = _text(v)
                if v is None:
                    continue
            for i in self.set.Match(v.encode("utf-8", "surrogatepass")) or ():
                out.update(self.rules[i])


class Engine:
    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.rules: list[Rule] = ruleset.rules
        # A rule is indexed under its best anchor group (detection.MAX_GROUPS is 1): it is a
        # candidate when any key of that group hits. Index values are rule numbers.
        self.index: dict[str, dict[str, list[int]]] = {}
        atoms: dict[tuple[str, bool], dict[str, list[int]]] = {}
        self.always: list[int] = []
        for r in self.rules:
            if not r.anchors:
                self.always.append(r.seq)
                continue
            for a in r.anchors[0]:
                if a[0] == "eq":
                    self.index.setdefault(a[1], {}).setdefault(a[2], []).append(r.seq)
                else:
                    atoms.setdefault((a[1], a[2]), {}).setdefault(a[3], []).append(r.seq)
        for vmap in self.index.values():
            for v, seqs in vmap.items():
                vmap[v] = sorted(set(seqs))
        self._index_items = list(self.index.items())
        self.sets = [_AtomSet(f, cased, pats) for (f, cased), pats in sorted(atoms.items())]
        group_fields = {f for c in ruleset.correlations for cands in c.group_fields.values() for g in cands for f in g}
        value_fields = {f for c in ruleset.correlations for vs in c.value_fields.values() for f in vs}
        self.fields = ruleset.fields | set(self.index) | {s.field for s in self.sets} | group_fields | value_fields
        self.plan = FieldPlan(self.fields)
        # Per lowered field: (literal -> codes, substring atom set), walked over the event's
        # own fields so a candidate lookup costs in proportion to the event, not the rules.
        self._plan: dict[str, tuple] = {f: (vmap, None) for f, vmap in self.index.items()}
        for aset in self.sets:
            if not aset.cased:
                vmap = self._plan.get(aset.field, (None, None))[0]
                self._plan[aset.field] = (vmap, aset)
        self._cased_sets = [a for a in self.sets if a.cased]
        self.correlator = Correlator(ruleset.correlations)
        # Correlations referenced by another correlation feed it and do not alert themselves.
        self.silent = {c.doc.id for c in ruleset.correlations if not c.standalone}

    def candidates(self, flat: dict, low: dict) -> list[int]:
        cands: set[int] = set()
        plan = self._plan
        for f, v in low.items():
            p = plan.get(f)
            if p is None or v is None:
                continue
            vmap, aset = p
            if vmap is not None:
                if v.__class__ is list:
                    for x in v:
                        hit = vmap.get(x)
                        if hit:
                            cands.update(hit)
                else:
                    hit = vmap.get(v)
                    if hit:
                        cands.update(hit)
            if aset is not None:
                if v.__class__ is str:
                    idx = aset.set.Match(v.encode("utf-8", "surrogatepass"))
                    if idx:
                        rl = aset.rules
                        for i in idx:
                            cands.update(rl[i])
                else:
                    aset.hits(v, cands)
        for aset in self._cased_sets:
            v = flat.get(aset.field)
            if v is not None:
                aset.hits(v, cands)
        if self.always:
            cands.update(self.always)
        if len(cands) < 2:
            return list(cands)
        return sorted(cands)

    def match(self, doc: dict) -> tuple[dict, list[Rule]]:
        """Rules whose detection matches `doc` (standalone or feeding correlations)."""
        flat, low = prepare(doc, self.plan)
        cands = self.candidates(flat, low)
        if not cands:
            return flat, []
        rules = self.rules
        return flat, [rules[i] for i in cands if rules[i].fn(flat, low)]

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
