"""Anchors: the literals a predicate cannot match without, for the candidate-rule index.

A predicate's anchors are a tuple of *groups* (a conjunction); a group is a frozenset of
keys, and it *hits* when any key is present in the event. Keys are

    ("eq", field, lowered value)          - an exact value: a dict lookup per field
    ("re", field, cased, RE2 literal)     - a substring (optionally anchored with \\A/\\z),
                                            found by one re2 Set (engine.py)

Every string pattern contributes its longest literal segment, so `*\\cmd.exe`, `adm*`,
`*evil*x*` and plain values all anchor; `*`, `?`, regexes (`re`), numbers compared with
`gt`, `exists`, `null` and negations do not. AND keeps the most selective groups, OR unions
one group per branch (and has none if a branch has none).
"""
from __future__ import annotations

import re2

from . import sigmastr as ss


def _atom(p: ss.Parts) -> tuple[str, str] | None:
    """A literal every match of pattern `p` must contain: ("eq", text) for a plain value, or
    ("re", RE2 text) for a substring anchored where the pattern is (start/end/anywhere).

    Atoms feed the engine's candidate index: equality atoms a dict, substring atoms one
    re2 Set (plain literals only, so the Set's DFA stays an Aho-Corasick-sized
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
    """Lower is better: long substring atoms, then equalities (long values first), then
    short atoms. `http.request.method: GET` loses to `user_agent.original: Hello-World`."""
    eq = [len(a[2]) for a in anchors if a[0] == "eq"]
    atoms = [len(a[-1]) for a in anchors if a[0] != "eq"]
    shortest = min(atoms) if atoms else 0
    if atoms and not eq and shortest >= STRONG_ATOM:
        return (0, -shortest, len(anchors))
    if not atoms:
        return (1, -min(eq), len(anchors))
    return (2, -shortest, len(anchors))


# Anchor groups kept per predicate (a rule is a candidate when all of its groups hit). One
# well-chosen group filters nearly as well as several and keeps the per-event tally short.
MAX_GROUPS = 1


def _order(group: frozenset) -> tuple:
    """Score, then the keys themselves: the choice must not depend on set iteration order."""
    return (anchor_score(group), sorted(map(repr, group)))


def and_anchors(items: list) -> tuple | None:
    """AND: every child's groups must hit; keep the most selective few."""
    groups = {g for a in items if a for g in a}
    if not groups:
        return None
    return tuple(sorted(groups, key=_order)[:MAX_GROUPS])


def or_anchors(items: list) -> tuple | None:
    """OR: one group, the union of each child's best group; none if any child has none."""
    if not items or any(not a for a in items):
        return None
    return (frozenset().union(*(min(a, key=_order) for a in items)),)


# --- literals required by a regular expression -------------------------------------------
# A small FilteredRE2-style analysis on the stdlib parser's tree: a sequence needs each of
# its literal runs; a branch needs one of its alternatives' literals; a repeat with
# min >= 1 needs its body's. Atoms are ASCII and lowered, checked against the lowered
# view, which is a sound necessary condition for case-sensitive patterns as well.
MIN_REGEX_ATOM = 3

try:  # Python >= 3.11
    from re import _constants as _sre, _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]


def _best(options: list[frozenset]) -> frozenset | None:
    good = [o for o in options if o and min(map(len, o)) >= MIN_REGEX_ATOM]
    if not good:
        return None
    return max(good, key=lambda o: (min(map(len, o)), -len(o)))


def _seq_atoms(items) -> frozenset | None:
    options: list[frozenset] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(frozenset(["".join(run).lower()]))
            run.clear()
    for op, av in items:
        if op is _sre.LITERAL and av < 128:
            run.append(chr(av))
            continue
        flush()
        sub = None
        if op is _sre.SUBPATTERN:
            sub = _seq_atoms(av[-1])
        elif op is _sre.BRANCH:
            alts = [_seq_atoms(b) for b in av[1]]
            if all(alts):
                sub = frozenset().union(*alts)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            sub = _seq_atoms(av[2])
        elif op is _sre.ATOMIC_GROUP if hasattr(_sre, "ATOMIC_GROUP") else False:
            sub = _seq_atoms(av)
        if sub:
            options.append(sub)
    flush()
    return _best(options)


def regex_atoms(pattern: str) -> frozenset | None:
    """Lowered ASCII literals, one of which any match of `pattern` must contain; or None."""
    try:
        tree = _sre_parse.parse(pattern)
    except Exception:  # RE2-only syntax: no atoms, the rule is simply not prefiltered
        return None
    return _seq_atoms(list(tree))
