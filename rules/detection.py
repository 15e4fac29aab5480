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


def _lower(v: Any) -> Any:
    c = v.__class__
    if c is str:
        return v.lower()
    if c is list:
        return [t.lower() for t in map(_text, v) if t is not None]
    if v is None:
        return None
    return _text(v).lower()


class FieldPlan:
    """Where the referenced fields live: a trie of path segments walked once per event.

    Flattening a whole ECS document costs more than all the rules' tests of a typical
    event; walking only the subtrees some rule reads (`url`, `user_agent`, `event`, but not
    `agent`, `log` or `host`) skips most of it. Keys that already contain dots (flat
    documents, as Filebeat may send) are resolved against the trie as well.
    """

    __slots__ = ("root", "fields")

    def __init__(self, fields: set[str] | frozenset[str]):
        self.fields = frozenset(fields)
        self.root: dict = {}
        for f in self.fields:
            node = self.root
            parts = f.split(".")
            for i, part in enumerate(parts):
                child = node.get(part)
                if child is None:
                    child = node[part] = [None, {}]  # [dotted path if a field ends here, children]
                if i == len(parts) - 1:
                    child[0] = f
                node = child[1]

    def extract(self, doc: dict, out: dict) -> dict:
        _walk(doc, self.root, out)
        return out


def _walk(doc: dict, trie: dict, out: dict) -> None:
    for k, v in doc.items():
        node = trie.get(k)
        if node is None:
            if "." in k:
                _dotted(k, v, trie, out)
            continue
        path, children = node
        if path is not None and v.__class__ is not dict:
            if v.__class__ is list and v and v[0].__class__ is dict:
                pass
            else:
                out[path] = v
        if children:
            if v.__class__ is dict:
                _walk(v, children, out)
            elif v.__class__ is list and v and v[0].__class__ is dict:
                sub: dict = {}
                for item in v:
                    if item.__class__ is dict:
                        one: dict = {}
                        _walk(item, children, one)
                        for sk, sv in one.items():
                            sub.setdefault(sk, []).extend(sv if sv.__class__ is list else [sv])
                out.update(sub)


def _dotted(key: str, v: Any, trie: dict, out: dict) -> None:
    node = None
    level = trie
    for part in key.split("."):
        node = level.get(part)
        if node is None:
            return
        level = node[1]
    path, children = node
    if path is not None and v.__class__ is not dict:
        out[path] = v
    if children and v.__class__ is dict:
        _walk(v, children, out)


def prepare(doc: dict, plan: "FieldPlan | None" = None) -> tuple[dict, dict]:
    """(flat, low) views of an event; see the module docstring.

    With a `plan` (every field some rule reads), only those fields are extracted and
    lower-cased: a long `event.original` that no rule looks at costs nothing.
    """
    flat: dict = {}
    if plan is None:
        _flatten(doc, "", flat)
    else:
        plan.extract(doc, flat)
    low = {}
    for k, v in flat.items():
        if v.__class__ is str:
            low[k] = v.lower()
        elif v is not None:
            low[k] = _lower(v)
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


def _atom(p: ss.Parts) -> tuple[str, str] | None:
    """A literal every match of pattern `p` must contain: ("eq", text) for a plain value, or
    ("re", RE2 text) for a substring anchored where the pattern is (start/end/anywhere).

    Atoms feed the engine's candidate index: equality atoms a dict, substring atoms one
    re2 Set per field (plain literals only, so the Set's DFA stays an Aho-Corasick-sized
    automaton). A pattern without any literal ('*', '?') has no atom.
    """
    if ss.is_literal(p):
        return ("eq", ss.literal_text(p))
    lits = [(i, x) for i, x in enumerate(p) if isinstance(x, str) and x]
    if not lits:
        return None
    i, best = max(lits, key=lambda t: len(t[1]))
    head = r"\A" if i == 0 else ""
    tail = r"\z" if i == len(p) - 1 else ""
    return ("re", head + re2.escape(best) + tail)


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


def _anchor(kind: str, field: str, text: str, cased: bool) -> tuple:
    """Index keys: ("eq", field, lowered value) or ("re", field, cased, RE2 literal pattern)."""
    if kind == "eq" and not cased:
        return ("eq", field, text)
    if kind == "eq":
        return ("re", field, True, r"\A" + re2.escape(text) + r"\z")
    return ("re", field, cased, text)


# Substring atoms at least this long are rare in benign logs; a group made of them filters
# better than an equality on a common value (http.request.method: GET, event.category: web).
STRONG_ATOM = 4


def anchor_score(anchors: frozenset) -> tuple:
    """Lower is better: long substring atoms, then equalities, then short atoms."""
    eq = [a for a in anchors if a[0] == "eq"]
    atoms = [len(a[-1]) for a in anchors if a[0] != "eq"]
    shortest = min(atoms) if atoms else 0
    if atoms and not eq and shortest >= STRONG_ATOM:
        return (0, -shortest, len(anchors))
    if not atoms:
        return (1, len(anchors), 0)
    return (2, -shortest, len(anchors))


# Anchor groups kept per predicate (a rule is a candidate when all of its groups hit). One
# well-chosen group filters nearly as well as several and keeps the per-event tally short.
MAX_GROUPS = 1


def and_anchors(items: list) -> tuple | None:
    """AND: every child's groups must hit; keep the most selective few."""
    groups = {g for a in items if a for g in a}
    if not groups:
        return None
    return tuple(sorted(groups, key=anchor_score)[:MAX_GROUPS])


def or_anchors(items: list) -> tuple | None:
    """OR: one group, the union of each child's best group; none if any child has none."""
    if not items or any(not a for a in items):
        return None
    return (frozenset().union(*(min(a, key=anchor_score) for a in items)),)


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
