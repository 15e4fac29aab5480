"""Compiling Sigma detection sections into predicates on prepared events.

A search identifier compiles to a `Compiled`: a predicate `fn(flat, low) -> bool` over the
two views of a prepared event (event.py: `flat` dotted fields, `low` lower-cased text),
plus its *anchors* (anchors.py): literals without which it cannot hold, from which the
engine builds its candidate-rule index.

Each detection item `field|modifiers: values` becomes one closure that reads its field
once; an OR of values merges into one scalar predicate (an equality set, `startswith`/
`endswith` tuples, a loop over `contains` needles, `*`-glob matchers, re2 for `?` globs
and `re`). Sigma wildcards never reach a regex engine unless they must.

Field semantics: a missing field matches nothing except `null` and `exists: false`; a list
field matches when any element matches; `all` links the written values with AND, each
satisfied by any element; `neq` negates the whole item.
"""
from __future__ import annotations

import ipaddress
import logging
import operator
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import re2

from . import sigmastr as ss
from .anchors import _anchor, _atom, and_anchors, or_anchors, regex_atoms
from .event import _text
from .modifiers import ModifierError, Modifiers, shape_values

log = logging.getLogger(__name__)

Pred = Callable[[dict, dict], bool]
Anchors = tuple | None  # conjunction of groups; a group (frozenset of keys) hits when any key does


@dataclass
class Compiled:
    fn: Pred
    anchors: Anchors


class DetectionError(ValueError):
    """A detection that cannot compile; the message names the search identifier and field."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _num(v: Any) -> float | None:
    if v.__class__ in (int, float) and v.__class__ is not bool:
        return v
    if v.__class__ is str:
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _time_part(v: Any, part: str) -> int | None:
    if v.__class__ is not str:
        return None
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if part == "week":
        return dt.isocalendar()[1]
    return getattr(dt, part)


# --- scalar predicates -----------------------------------------------------------------

def _pattern_pred(alts: list[ss.Parts]) -> tuple[Callable[[str], bool], frozenset | None]:
    """OR of Sigma string patterns -> predicate on one text value, plus literal anchors."""
    eq: set[str] = set()
    prefix: list[str] = []
    suffix: list[str] = []
    contains: list[str] = []
    regexes: list[Any] = []
    any_value = False
    atoms: set[tuple[str, str]] = set()
    for p in alts:
        atom = _atom(p)
        if atom is not None:
            atoms.add(atom)
        kind, op = ss.compile_parts(p)
        if kind == "eq":
            eq.add(op)
        elif kind == "prefix":
            prefix.append(op)
        elif kind == "suffix":
            suffix.append(op)
        elif kind == "contains":
            contains.append(op)
        elif kind == "any":
            any_value = True
        else:
            regexes.append(op)
    if any_value:
        return (lambda s: True), None
    checks: list[Callable[[str], bool]] = []
    if eq:
        fs = frozenset(eq)
        checks.append(fs.__contains__)
    if prefix:
        pt = tuple(prefix)
        checks.append(lambda s, pt=pt: s.startswith(pt))
    if suffix:
        st = tuple(suffix)
        checks.append(lambda s, st=st: s.endswith(st))
    if contains:
        if len(contains) == 1:
            needle = contains[0]
            checks.append(lambda s, n=needle: n in s)
        else:
            ct = tuple(contains)

            def any_needle(s: str, ct: tuple = ct) -> bool:
                for n in ct:
                    if n in s:
                        return True
                return False
            checks.append(any_needle)
    for rx in regexes:
        checks.append(rx)
    anchors = frozenset(atoms) if len(atoms) and all(_atom(p) for p in alts) else None
    if len(checks) == 1:
        return checks[0], anchors
    cs = tuple(checks)

    def any_check(s: str) -> bool:
        for c in cs:
            if c(s):
                return True
        return False
    return any_check, anchors


def compile_regex(pattern: str, flags: str, where: str) -> Any:
    """RE2 only (linear time): a pattern it cannot compile is refused with the reason, never
    run on the backtracking stdlib engine, where one hostile log line could stall the stage."""
    opts = re2.Options()
    opts.case_sensitive = "i" not in flags
    opts.dot_nl = "s" in flags
    opts.log_errors = False
    inline = "(?m)" if "m" in flags else ""
    try:
        return re2.compile(inline + pattern, opts)
    except Exception as exc:  # re2.error: bad syntax, or a feature RE2 lacks (look-around, backrefs)
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise DetectionError(f"{where}: regular expression {pattern!r} is refused: {why} (rules run on RE2, which has "
                             f"no look-around or back-references, so that no log line can make matching take "
                             f"exponential time)") from None


def regex_test(rx: Any) -> Callable[[str], bool]:
    """Yes/no search with a pattern from compile_regex (re2 directly, or the stdlib's)."""
    if isinstance(rx, re.Pattern):
        search = rx.search
        return lambda s: search(s) is not None
    return ss.re2_test(rx)


_OPS = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


# --- detection items ---------------------------------------------------------------------

class ItemCompiler:
    """Compiles `field|mods: values` items with a field mapping and placeholder values."""

    def __init__(self, map_field: Callable[[str], list[str]], keyword_fields: list[str],
                 placeholders: dict[str, list[str]] | None = None):
        self.map_field = map_field
        self.keyword_fields = keyword_fields
        self.placeholders = placeholders or {}
        self.fields: set[str] = set()  # every event field a compiled predicate reads

    def item(self, key: str, value: Any, where: str) -> Compiled:
        name, *mods = key.split("|")
        try:
            m = Modifiers.parse(mods)
        except ModifierError as exc:
            raise DetectionError(f"{where}: {key}: {exc}", key) from None
        raw = value if isinstance(value, list) else [value]
        if not raw:
            raise DetectionError(f"{where}: {key}: empty value list", key)
        keyword = name == ""
        if keyword:
            if m.exists or m.fieldref or m.cidr or m.compare:
                raise DetectionError(f"{where}: {key}: keyword searches take string modifiers only", key)
            if not m.re and "contains" not in m.transforms:
                m.transforms.insert(0, "contains")
            targets = list(self.keyword_fields)
        else:
            targets = self.map_field(name)
        self.fields.update(targets)
        try:
            compiled = self._build(targets, m, raw, where + ": " + key)
        except ModifierError as exc:
            raise DetectionError(f"{where}: {key}: {exc}", key) from None
        if m.neq:
            inner = compiled.fn
            return Compiled(lambda f, l: not inner(f, l), None)
        return compiled

    def _build(self, targets: list[str], m: Modifiers, raw: list[Any], where: str) -> Compiled:
        if m.all and len(raw) < 2:
            log.debug("'all' with a single value", extra={"where": where})
        if m.exists:
            if len(raw) != 1 or not isinstance(raw[0], bool):
                raise ModifierError("'exists' needs exactly one true/false value")
            want = raw[0]
            return Compiled(lambda f, l: any(t in f for t in targets) is want, None)
        values = shape_values(raw, m, self.placeholders)
        if not m.all:
            # OR of values: one predicate over every alternative, so the field is read once
            # and e.g. 40 `contains` needles become one loop instead of 40 field tests.
            nulls = [v for v in values if any(a is None for a in v)]
            rest = [a for v in values if v not in nulls for a in v]
            preds = ([self._value(targets, m, rest, where)] if rest else []) + \
                    ([self._value(targets, m, [None], where)] if nulls else [])
        else:
            preds = [self._value(targets, m, alts, where) for alts in values]
        if len(preds) == 1:
            return preds[0]
        if m.all:
            return Compiled(all_of([p.fn for p in preds]), and_anchors([p.anchors for p in preds]))
        return Compiled(any_of([p.fn for p in preds]), or_anchors([p.anchors for p in preds]))

    def _value(self, targets: list[str], m: Modifiers, alts: list[Any], where: str) -> Compiled:
        """One written value (with its alternatives) on the target fields."""
        if any(a is None for a in alts):
            return Compiled(lambda f, l: any(f.get(t) is None for t in targets), None)
        if m.compare or m.time_part:
            return self._numeric(targets, m, alts)
        if m.cidr:
            nets = []
            for a in alts:
                try:
                    nets.append(ipaddress.ip_network(str(a), strict=False))
                except ValueError:
                    raise ModifierError(f"'cidr' value {a!r} is not a network") from None
            return self._field_test(targets, lambda s: _in_nets(s, nets), cased=True)
        if m.re:
            tests = [regex_test(compile_regex(str(a), m.re_flags, where)) for a in alts]
            if len(tests) == 1:
                c = self._field_test(targets, tests[0], cased=True)
            else:
                c = self._field_test(targets, lambda s: any(t(s) for t in tests), cased=True)
            atoms = [regex_atoms(str(a)) for a in alts]
            if all(atoms):
                c.anchors = (frozenset(("re", t, False, re2.escape(x)) for t in targets for a in atoms for x in a),)
            return c
        if m.fieldref:
            return self._fieldref(targets, m, alts)
        parts: list[ss.Parts] = []
        for a in alts:
            if isinstance(a, bool):
                parts.append(ss.plain("true" if a else "false"))
            elif isinstance(a, (int, float)):
                parts.append(ss.plain(_text(a)))
            else:
                parts.append(a)
        if not m.cased:
            parts = [ss.lower(p) for p in parts]
        pred, atoms = _pattern_pred(parts)
        c = self._field_test(targets, pred, cased=m.cased)
        if atoms is not None:
            c.anchors = (frozenset(_anchor(kind, t, text, m.cased) for t in targets for kind, text in atoms),)
        return c

    def _numeric(self, targets: list[str], m: Modifiers, alts: list[Any]) -> Compiled:
        nums = []
        for a in alts:
            n = _num(a) if not isinstance(a, tuple) else _num(ss.literal_text(a))
            if n is None or isinstance(a, bool):
                raise ModifierError(f"comparison needs a number, got {a!r}")
            nums.append(n)
        op = _OPS[m.compare] if m.compare else operator.eq
        part = m.time_part

        def one(v: Any) -> bool:
            x = _time_part(v, part) if part else _num(v)
            return x is not None and any(op(x, n) for n in nums)

        def test(f: dict, l: dict) -> bool:
            for t in targets:
                v = f.get(t)
                if v.__class__ is list:
                    if any(one(x) for x in v):
                        return True
                elif v is not None and one(v):
                    return True
            return False
        return Compiled(test, None)

    def _fieldref(self, targets: list[str], m: Modifiers, alts: list[Any]) -> Compiled:
        refs = [r for a in alts for r in self.map_field(str(a))]
        self.fields.update(refs)
        pos = m.fieldref_pos
        view = "f" if m.cased else "l"

        def rel(a: str, b: str) -> bool:
            if pos == "contains":
                return b in a
            if pos == "startswith":
                return a.startswith(b)
            if pos == "endswith":
                return a.endswith(b)
            return a == b

        def test(f: dict, l: dict) -> bool:
            d = f if view == "f" else l
            for t in targets:
                a = d.get(t)
                if a is None:
                    continue
                for r in refs:
                    b = d.get(r)
                    if b is None:
                        continue
                    if rel(_text(a) if view == "f" else a, _text(b) if view == "f" else b):
                        return True
            return False
        return Compiled(test, None)

    @staticmethod
    def _field_test(targets: list[str], pred: Callable[[str], bool], cased: bool) -> Compiled:
        if not cased and len(targets) == 1:
            t = targets[0]

            def one(f: dict, l: dict) -> bool:
                v = l.get(t)
                if v is None:
                    return False
                if v.__class__ is list:
                    return any(map(pred, v))
                return pred(v)
            return Compiled(one, None)
        ts = tuple(targets)
        if not cased:
            def many(f: dict, l: dict) -> bool:
                for t in ts:
                    v = l.get(t)
                    if v is None:
                        continue
                    if v.__class__ is list:
                        if any(map(pred, v)):
                            return True
                    elif pred(v):
                        return True
                return False
            return Compiled(many, None)

        def cased_test(f: dict, l: dict) -> bool:
            for t in ts:
                v = f.get(t)
                if v is None:
                    continue
                if v.__class__ is list:
                    if any(pred(x) for x in map(_text, v) if x is not None):
                        return True
                elif pred(_text(v)):
                    return True
            return False
        return Compiled(cased_test, None)


def _in_nets(s: str, nets: list) -> bool:
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    return any(ip in n for n in nets)


# --- search identifiers -----------------------------------------------------------------

def all_of(fns: list[Pred]) -> Pred:
    """AND of predicates, unrolled for the common small cases (no generator per event)."""
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        a, b = fns
        return lambda f, l: a(f, l) and b(f, l)
    if len(fns) == 3:
        a, b, c = fns
        return lambda f, l: a(f, l) and b(f, l) and c(f, l)
    t = tuple(fns)

    def every(f: dict, l: dict) -> bool:
        for fn in t:
            if not fn(f, l):
                return False
        return True
    return every


def any_of(fns: list[Pred]) -> Pred:
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        a, b = fns
        return lambda f, l: a(f, l) or b(f, l)
    if len(fns) == 3:
        a, b, c = fns
        return lambda f, l: a(f, l) or b(f, l) or c(f, l)
    t = tuple(fns)

    def some(f: dict, l: dict) -> bool:
        for fn in t:
            if fn(f, l):
                return True
        return False
    return some


def _and(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    anchors = and_anchors([p.anchors for p in parts])
    # cheapest first: anchored equality tests reject most events before any substring scan
    order = sorted(parts, key=lambda p: 0 if p.anchors else 1)
    return Compiled(all_of([p.fn for p in order]), anchors)


def _or(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    return Compiled(any_of([p.fn for p in parts]), or_anchors([p.anchors for p in parts]))


def compile_search(ic: ItemCompiler, name: str, body: Any) -> Compiled:
    """A search identifier: a map (AND), a list of maps (OR) or a list of keywords (OR)."""
    where = name
    if isinstance(body, dict):
        if not body:
            raise DetectionError(f"{where}: empty selection")
        return _and([ic.item(str(k), v, where) for k, v in body.items()])
    if isinstance(body, list):
        if not body:
            raise DetectionError(f"{where}: empty list")
        maps = [compile_search(ic, name, b) for b in body if isinstance(b, dict)]
        words = [b for b in body if not isinstance(b, (dict, list))]
        if any(isinstance(b, list) for b in body):
            raise DetectionError(f"{where}: nested lists are not valid in a detection")
        parts = maps + ([ic.item("", words, where)] if words else [])
        return _or(parts)
    if isinstance(body, (str, int, float)) and not isinstance(body, bool):
        return ic.item("", [body], where)
    raise DetectionError(f"{where}: expected a map, a list or a keyword, got {type(body).__name__}")
