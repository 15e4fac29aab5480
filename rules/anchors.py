"""Anchors: the literals a predicate cannot match without, for the candidate-rule index.

A predicate's anchors are a tuple of *groups* (a conjunction); a group is a frozenset of
keys, and it *hits* when any key is present in the event. Keys are

    ("eq", field, lowered value)          - an exact value: a dict lookup per field
    ("re", field, cased, RE2 literal)     - a substring (optionally anchored with \\A/\\z),
                                            found by one re2 Set per field

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
