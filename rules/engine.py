"""The matcher: a compiled RuleSet applied to events, with a candidate-rule index.

Evaluating 300 rules on every event would spend most of the time proving that an nginx
line is not a Linux process start. Each compiled rule carries an anchor group (anchors.py):
literals at least one of which is present in every event the rule can match - exact
values, or substrings such as the longest literal of a `contains` or `endswith` value or of
a regex; failing those, the logsource's pipeline conditions (`event.category: web`). The
index maps field -> exact value -> rules, and one re2 Set holds every substring atom,
scoped to its field; so one event costs a dict lookup per indexed field, one Set scan, and
the predicates of the few candidate rules. Rules without anchors (negations, `exists`,
`*`) are always candidates.

`Engine.process(doc, ref)` returns `Hit`s: standalone rule matches, and correlation hits
from the `Correlator`, which receives every match of a rule some correlation references.
`ref` is opaque (a line number for `rules test`, a Kafka offset in the stage).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

from .compiler import RuleSet, Rule
from .correlation import Correlator, Hit
import re2
from re2 import _re2

from .event import FieldPlan, _text, prepare
from .fastpath import compile_stage1, compile_stage2, lower_all


def event_time(doc: dict, default: float | None = None) -> float:
    """Seconds since the epoch from `@timestamp` (ISO 8601 or epoch number)."""
    ts = doc.get("@timestamp")
    if isinstance(ts, str):
        if len(ts) == 24 and ts[23] == "Z" and ts[19] == "." and ts[20:23].isascii() and ts[20:23].isdigit():
            # The parsers' own shape, `2026-11-26T10:00:00.123Z`: the whole seconds come from
            # a small cache (events arrive many per second), the result is computed exactly
            # as datetime.timestamp() does ((seconds * 10**6 + microseconds) / 10**6).
            secs = _SECONDS.get(ts[:19])
            if secs is None:
                secs = _seconds(ts[:19])
            if secs is not None:
                return (secs * 1_000_000 + int(ts[20:23]) * 1000) / 10**6
        try:
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    elif isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return float(ts) / 1000.0 if ts > 1e11 else float(ts)
    return time.time() if default is None else default


_SECONDS: dict[str, int] = {}
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}").fullmatch
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds(prefix: str) -> int | None:
    """Whole UTC seconds of a canonical `YYYY-MM-DDTHH:MM:SS` (else None: the caller
    takes the general path). Only canonical prefixes enter the cache."""
    if _CANONICAL(prefix) is None:
        return None
    try:
        dt = datetime.fromisoformat(prefix + "+00:00")
    except ValueError:
        return None
    d = dt - _EPOCH
    secs = d.days * 86400 + d.seconds
    if len(_SECONDS) >= 4096:
        _SECONDS.clear()
    _SECONDS[prefix] = secs
    return secs


# RE2 Set memory budget. The sets hold only escaped literals (with \\A/\\z), so their DFA
# is about the size of an Aho-Corasick automaton; the budget is generous so the DFA never
# runs out (RE2 would then report no match at all).
SET_MAX_MEM = 256 << 20

# Distinct candidate sets with their own generated stage-2 extractor (a few dozen in
# practice); past this, the extractor of every referenced field serves.
STAGE2_CACHE = 2048


class _AtomSet:
    """Case-sensitive substring atoms of one field in one re2 Set: one pass per value."""

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


def _anchored_end(pat: str) -> bool:
    """True when an index pattern ends with the \\z anchor (not an escaped backslash + z)."""
    if not pat.endswith("z"):
        return False
    n = len(pat) - 1 - len(pat[:-1].rstrip("\\"))
    return n % 2 == 1


class _MergedAtoms:
    """Every case-insensitive substring atom of every field in ONE re2 Set.

    The event's indexed values are joined into one haystack of segments
    `NUL <field number> SOH <lowered value>`, and each atom becomes
    `NUL <n> SOH [^NUL]* atom` (or without `[^NUL]*` when the atom is anchored at the start,
    followed by `(?:NUL|\\z)` when anchored at the end): one Set scan per event instead of
    one per field. A NUL inside a value is replaced by a space in the haystack so a segment
    cannot be cut short (the rule predicates still see the original value).
    """

    __slots__ = ("set", "rules", "tags")

    def __init__(self, per_field: dict[str, dict[str, list[int]]]):
        opts = re2.Options()
        opts.max_mem = SET_MAX_MEM
        opts.never_capture = True
        opts.log_errors = False
        self.set = _re2.Set(re2._Anchor.UNANCHORED, opts)
        self.rules: list[list[int]] = []
        self.tags: dict[str, str] = {}
        for i, (field, pats) in enumerate(sorted(per_field.items())):
            self.tags[field] = f"\x00{i}\x01"
            tag = rf"\x00{i}\x01"
            for pat, seqs in pats.items():
                head = pat.startswith(r"\A")
                core = pat[2:] if head else pat
                tail = _anchored_end(core)
                core = core[:-2] if tail else core
                full = tag + ("" if head else r"[^\x00]*") + core + (r"(?:\x00|\z)" if tail else "")
                if self.set.Add(full.encode()) != len(self.rules):
                    raise ValueError(f"re2 refused index pattern {full!r}")
                self.rules.append(seqs)
        if not self.set.Compile():
            raise ValueError("re2 could not compile the substring index")


class _Matcher:
    """Everything compiled from a rule set for matching: index, re2 Sets, generated code.

    Built once per RuleSet and shared by every Engine made from it - in particular the re2
    Sets, whose DFA RE2 builds lazily while scanning: a fresh Set scans the first tens of
    thousands of events about a third slower. An Engine adds correlation state.
    """

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
        self.sets = [_AtomSet(f, cased, pats) for (f, cased), pats in sorted(atoms.items()) if cased]
        self.merged = _MergedAtoms({f: pats for (f, cased), pats in atoms.items() if not cased})
        group_fields = {f for c in ruleset.correlations for cands in c.group_fields.values() for g in cands for f in g}
        value_fields = {f for c in ruleset.correlations for vs in c.value_fields.values() for f in vs}
        self.fields = (ruleset.fields | set(self.index) | {s.field for s in self.sets} | set(self.merged.tags)
                       | group_fields | value_fields)
        self.plan = FieldPlan(self.fields)
        # Per lowered field: (literal -> codes, substring atom set), walked over the event's
        # own fields so a candidate lookup costs in proportion to the event, not the rules.
        self._plan: dict[str, tuple] = {f: (vmap, None) for f, vmap in self.index.items()}
        for f, tag in self.merged.tags.items():
            self._plan[f] = (self._plan.get(f, (None, None))[0], tag)
        self._cased_sets = self.sets
        # The generated hot path (fastpath.py): stage 1 reads only what the index needs.
        index_fields = set(self.index) | set(self.merged.tags) | {s.field for s in self.sets}
        self._plain: set[str] = set()
        self.stage1 = compile_stage1(index_fields, self.index, self.merged.tags, self._plain,
                                     self.merged.set.Match, self.merged.rules, self._cased_sets, self.always)
        self.stage2 = compile_stage2(self.fields - index_fields, self._plain)
        # Stage 2 per candidate set: only the fields those rules (and the correlations they
        # feed) read - an sshd line that is a candidate of one rule extracts two more fields.
        self._index_fields = frozenset(index_fields)
        self._needs: list[set[str]] = [set(r.fields) for r in self.rules]
        for c in ruleset.correlations:
            for ref in c.refs:
                if isinstance(ref, Rule):
                    self._needs[ref.seq].update(f for g in c.group_fields.get(ref.doc.id, []) for f in g)
                    self._needs[ref.seq].update(c.value_fields.get(ref.doc.id, []))
        self._stage2_for: dict[tuple[int, ...], Any] = {}


class Engine:
    def __init__(self, ruleset: RuleSet, episodes: Any = None):
        """`episodes`: the stage's alert episodes (episodes.Episodes), which the correlator asks
        whether a group's alert is open; without them correlations detect as before."""
        shared = ruleset.fastpath.get("matcher")
        if shared is None:
            shared = ruleset.fastpath["matcher"] = _Matcher(ruleset)
        self.__dict__.update(vars(shared))  # plain attribute reads on the hot path
        self.correlator = Correlator(ruleset.correlations, episodes)
        # Correlations referenced by another correlation feed it and do not alert themselves.
        self.silent = {c.doc.id for c in ruleset.correlations if not c.standalone}

    def candidates(self, flat: dict, low: dict) -> list[int]:
        cands: set[int] = set()
        plan = self._plan
        hay: list[str] = []
        for f, v in low.items():
            p = plan.get(f)
            if p is None or v is None:
                continue
            vmap, tag = p
            if v.__class__ is list:
                if vmap is not None:
                    for x in v:
                        hit = vmap.get(x)
                        if hit:
                            cands.update(hit)
                if tag is not None:
                    for x in v:
                        hay.append(tag)
                        hay.append(x.replace("\x00", " ") if "\x00" in x else x)
            else:
                if vmap is not None:
                    hit = vmap.get(v)
                    if hit:
                        cands.update(hit)
                if tag is not None:
                    hay.append(tag)
                    hay.append(v.replace("\x00", " ") if "\x00" in v else v)
        if hay:
            idx = self.merged.set.Match("".join(hay).encode("utf-8", "replace"))
            if idx:
                rl = self.merged.rules
                for i in idx:
                    cands.update(rl[i])
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
        """Rules whose detection matches `doc` (standalone or feeding correlations).

        The returned flat view holds the indexed fields plus every field the candidate
        rules and the correlations they feed read - not necessarily every referenced field.
        Same rules as `match_reference`, faster: see fastpath.py.
        """
        flat, low, cands, slow = self.stage1(doc)
        if slow:
            low = lower_all(flat)
            cands = set(self.candidates(flat, low))
        if not cands:
            return flat, []
        rules = self.rules
        if len(cands) == 1:
            (i,) = cands
            key: tuple[int, ...] = (i,)
        else:
            key = tuple(sorted(cands))
        ex = self._stage2_for.get(key)
        if ex is None:
            ex = self._compile_stage2(key)
        if ex(doc, flat, low):
            low = lower_all(flat)
        if len(key) == 1:
            r = rules[key[0]]
            return flat, ([r] if r.fn(flat, low) else [])
        return flat, [rules[i] for i in key if rules[i].fn(flat, low)]

    def _compile_stage2(self, key: tuple[int, ...]) -> Any:
        """The stage-2 extractor of one candidate set (cached; bounded, then the full one)."""
        if len(self._stage2_for) >= STAGE2_CACHE:
            return self.stage2
        needs = set().union(*(self._needs[i] for i in key)) - self._index_fields
        ex = self._stage2_for[key] = compile_stage2(needs, self._plain)
        return ex

    def match_reference(self, doc: dict) -> tuple[dict, list[Rule]]:
        """`match` by the generic code (event.prepare + candidates): the fast path's oracle."""
        flat, low = prepare(doc, self.plan)
        cands = self.candidates(flat, low)
        if not cands:
            return flat, []
        rules = self.rules
        return flat, [rules[i] for i in cands if rules[i].fn(flat, low)]

    def process(self, doc: dict, ref: Any = None, ts: float | None = None, fresh: Any = None) -> list[Hit]:
        """Hits of one event. `fresh(doc) -> bool`, when given, is asked once for an event that
        matched something: False (an event already counted, e.g. replayed) drops it."""
        flat, matched = self.match(doc)
        if not matched or (fresh is not None and not fresh(doc)):
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
