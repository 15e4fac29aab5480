"""Compiling Sigma detection sections into predicates on prepared events.

An event is *prepared* once per evaluation (`prepare`): the nested ECS document is
flattened to dotted keys (`flat`), and a second view (`low`) holds every scalar as
lower-cased text (numbers as their decimal text, booleans as `true`/`false`). Every
case-insensitive string test of every rule then reads `low` without converting anything
again, which is where most of the per-event cost would otherwise go. Case-insensitivity is
Unicode-aware (`str.lower`), unlike SQL engines that fold ASCII only.

A search identifier compiles to a `Compiled`: a predicate `fn(flat, low) -> bool` plus its
*anchors* - a set of (field, lowered literal) pairs such that whenever the predicate holds,
at least one pair is present in the event. The engine's candidate index is built from
anchors (see engine.py); a predicate that can hold without any literal (a negation, a
`contains`, `exists: false`) has no anchors and is evaluated on every event of its
logsource.

Field semantics: a missing field matches nothing except `null` and `exists: false`; a list
field matches when any element matches; `all` links the written values with AND, each
satisfied by any element.
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
from .modifiers import ModifierError, Modifiers, shape_values

log = logging.getLogger(__name__)

Pred = Callable[[dict, dict], bool]
Anchors = frozenset | None


@dataclass
class Compiled:
    fn: Pred
    anchors: Anchors


class DetectionError(ValueError):
    """A detection that cannot compile; the message names the search identifier and field."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


# --- event preparation ---------------------------------------------------------------

def _text(v: Any) -> str | None:
    t = v.__class__
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return str(int(v)) if v.is_integer() else repr(v)
    if v is None:
        return None
    return str(v)


def _flatten(doc: dict, prefix: str, out: dict) -> None:
    for k, v in doc.items():
        key = prefix + k
        if v.__class__ is dict:
            _flatten(v, key + ".", out)
        elif v.__class__ is list and v and v[0].__class__ is dict:
            sub: dict = {}
            for item in v:
                if item.__class__ is dict:
                    one: dict = {}
                    _flatten(item, "", one)
                    for sk, sv in one.items():
                        sub.setdefault(sk, []).extend(sv if sv.__class__ is list else [sv])
            for sk, sv in sub.items():
                out[key + "." + sk] = sv
        else:
            out[key] = v


def prepare(doc: dict) -> tuple[dict, dict]:
    """(flat, low) views of an event; see the module docstring."""
    flat: dict = {}
    _flatten(doc, "", flat)
    low: dict = {}
    for k, v in flat.items():
        c = v.__class__
        if c is str:
            low[k] = v.lower()
        elif c is list:
            low[k] = [t.lower() for t in map(_text, v) if t is not None]
        elif v is not None:
            low[k] = _text(v).lower()
    return flat, low


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
    for p in alts:
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
            checks.append(lambda s, ct=ct: any(n in s for n in ct))
    for rx in regexes:
        checks.append(lambda s, rx=rx: rx.fullmatch(s) is not None)
    anchors = frozenset(eq) if eq and len(checks) == 1 else None
    if len(checks) == 1:
        return checks[0], anchors
    cs = tuple(checks)
    return (lambda s: any(c(s) for c in cs)), anchors


def compile_regex(pattern: str, flags: str, where: str) -> Any:
    """re2 first (linear time); the stdlib engine only where RE2 lacks a feature, with a warning."""
    opts = re2.Options()
    opts.case_sensitive = "i" not in flags
    opts.dot_nl = "s" in flags
    opts.log_errors = False
    inline = "(?m)" if "m" in flags else ""
    try:
        return re2.compile(inline + pattern, opts)
    except Exception as exc:  # re2.error: unsupported syntax such as look-around or backrefs
        try:
            f = (re.I if "i" in flags else 0) | (re.M if "m" in flags else 0) | (re.S if "s" in flags else 0)
            rx = re.compile(pattern, f)
        except re.error as exc2:
            raise DetectionError(f"{where}: invalid regular expression {pattern!r}: {exc2}") from None
        log.warning("rule regex needs the stdlib engine (not linear-time)",
                    extra={"where": where, "pattern": pattern, "re2_error": str(exc)})
        return rx


_OPS = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


# --- detection items ---------------------------------------------------------------------

class ItemCompiler:
    """Compiles `field|mods: values` items with a field mapping and placeholder values."""

    def __init__(self, map_field: Callable[[str], list[str]], keyword_fields: list[str],
                 placeholders: dict[str, list[str]] | None = None):
        self.map_field = map_field
        self.keyword_fields = keyword_fields
        self.placeholders = placeholders or {}

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
        preds: list[Compiled] = []
        for alts in values:
            preds.append(self._value(targets, m, alts, where))
        if len(preds) == 1:
            return preds[0]
        fns = tuple(p.fn for p in preds)
        if m.all:
            anchors = next((p.anchors for p in preds if p.anchors), None)
            return Compiled(lambda f, l: all(fn(f, l) for fn in fns), anchors)
        if all(p.anchors for p in preds):
            anchors = frozenset().union(*(p.anchors for p in preds))
        else:
            anchors = None
        # Merge plain string alternatives into one predicate per field when possible.
        return Compiled(lambda f, l: any(fn(f, l) for fn in fns), anchors)

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
            rxs = [compile_regex(str(a), m.re_flags, where) for a in alts]
            if len(rxs) == 1:
                rx = rxs[0]
                return self._field_test(targets, lambda s: rx.search(s) is not None, cased=True)
            return self._field_test(targets, lambda s: any(r.search(s) is not None for r in rxs), cased=True)
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
        pred, lits = _pattern_pred(parts)
        c = self._field_test(targets, pred, cased=m.cased)
        if lits is not None and not m.cased:
            c.anchors = frozenset((t, v) for t in targets for v in lits)
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

def _and(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    fns = tuple(p.fn for p in parts)
    anchored = [p.anchors for p in parts if p.anchors]
    anchors = min(anchored, key=len) if anchored else None
    return Compiled(lambda f, l: all(fn(f, l) for fn in fns), anchors)


def _or(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    fns = tuple(p.fn for p in parts)
    anchors = frozenset().union(*(p.anchors for p in parts)) if all(p.anchors for p in parts) else None
    return Compiled(lambda f, l: any(fn(f, l) for fn in fns), anchors)


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
