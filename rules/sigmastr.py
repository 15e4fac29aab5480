"""Sigma strings: literal text with `*` and `?` wildcards, and their compiled matchers.

A Sigma string value is parsed once into a tuple of parts: `str` literal chunks and the
two wildcard sentinels STAR (`*`, any run of characters) and QMARK (`?`, exactly one).
Escaping follows the specification (sigma-rules-specification, "Escape Character"):

    \\*  ->  literal *          \\?  ->  literal ?         \\\\  ->  literal \\
    \\x  ->  \\x (a backslash not before a wildcard or backslash stays a backslash)

So `\\\\*` is a literal backslash followed by a wildcard, and `\\\\\\*` is backslash + star
as plain text. Value modifiers (contains, startswith, ...) work on this part tuple, never on
the raw text, so a wildcard that the rule author escaped stays literal through them.

`compile_parts` turns a part tuple into the cheapest predicate on an already-lowered (or,
for `cased`, original) event string: equality, startswith, endswith, `in`, or a re2 full
match when wildcards sit in the middle.
"""
from __future__ import annotations

from typing import Any, Callable, Union

import re2


class _Wild:
    __slots__ = ("sym",)

    def __init__(self, sym: str):
        self.sym = sym

    def __repr__(self) -> str:
        return self.sym


STAR = _Wild("*")
QMARK = _Wild("?")
Part = Union[str, _Wild]
Parts = tuple  # tuple[Part, ...]


def parse(text: str) -> Parts:
    """Sigma string text -> parts, applying the escape rules of the specification."""
    out: list[Part] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt in ("*", "?", "\\"):
                buf.append(nxt)
                i += 2
                continue
            buf.append("\\")
            i += 1
            continue
        if c in "*?":
            if buf:
                out.append("".join(buf))
                buf = []
            out.append(STAR if c == "*" else QMARK)
        else:
            buf.append(c)
        i += 1
    if buf:
        out.append("".join(buf))
    return tuple(out)


def plain(text: str) -> Parts:
    """A literal string with no wildcards (e.g. the output of base64 encoding)."""
    return (text,) if text else ()


def is_literal(parts: Parts) -> bool:
    return all(isinstance(p, str) for p in parts)


def literal_text(parts: Parts) -> str:
    return "".join(p for p in parts if isinstance(p, str))


def to_text(parts: Parts) -> str:
    """Back to Sigma text (escaping literal wildcards), for messages and the oracle."""
    out = []
    for p in parts:
        if isinstance(p, _Wild):
            out.append(p.sym)
        else:
            out.append(p.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))
    return "".join(out)


def lower(parts: Parts) -> Parts:
    return tuple(p.lower() if isinstance(p, str) else p for p in parts)


def startswith_star(parts: Parts) -> bool:
    return bool(parts) and parts[0] is STAR


def endswith_star(parts: Parts) -> bool:
    return bool(parts) and parts[-1] is STAR


def to_regex(parts: Parts) -> str:
    """A full-match regex (RE2 syntax, dot matches newline) for a wildcard pattern."""
    out = ["(?s)"]
    for p in parts:
        if p is STAR:
            out.append(".*")
        elif p is QMARK:
            out.append(".")
        else:
            out.append(re2.escape(p) if hasattr(re2, "escape") else _escape(p))
    return "".join(out)


def _escape(s: str) -> str:
    return "".join("\\" + c if not c.isalnum() and c != "_" else c for c in s)


Pred = Callable[[str], bool]


def compile_parts(parts: Parts) -> tuple[str, object]:
    """Classify a pattern for the fastest test: (kind, operand).

    kinds: "eq" (operand str), "prefix", "suffix", "contains", "regex" (compiled re2).
    Patterns are expected already lowered when matching is case-insensitive.
    """
    if is_literal(parts):
        return "eq", literal_text(parts)
    inner = list(parts)
    lead = bool(inner) and inner[0] is STAR
    trail = bool(inner) and inner[-1] is STAR
    while inner and inner[0] is STAR:
        inner.pop(0)
    while inner and inner[-1] is STAR:
        inner.pop()
    if not inner:
        return "any", None  # '*' alone: any value, including the empty string
    if len(inner) == 1 and isinstance(inner[0], str):
        text = inner[0]
        if lead and trail:
            return "contains", text
        if lead:
            return "suffix", text
        if trail:
            return "prefix", text
    if all(p is STAR or isinstance(p, str) for p in parts):
        return "regex", star_matcher(parts)
    return "regex", re2_test(re2.compile(to_regex(parts)), full=True)


def re2_test(rx: Any, full: bool = False) -> Pred:
    """`rx.search(s) is not None` (or fullmatch) for a compiled google-re2 pattern, as one
    call into RE2.

    The binding's search() runs a generator, maps byte offsets back to characters and
    builds a match object - several times the cost of the match itself, all thrown away
    by a yes/no test. This asks RE2 directly, on a copy compiled without capture groups
    (which lets RE2 stay on its DFA): same pattern, same options, same verdict.
    """
    opts = re2.Options()
    for name in re2.Options.NAMES:
        setattr(opts, name, getattr(rx.options, name))
    opts.never_capture = True
    match = re2.compile(rx.pattern, opts)._regexp.Match
    anchor = re2._Anchor.ANCHOR_BOTH if full else re2._Anchor.UNANCHORED
    miss = (-1, -1)

    def test(s: str) -> bool:
        b = s.encode("utf-8")
        return match(anchor, b, 0, len(b))[0] != miss
    return test


def star_matcher(parts: Parts) -> Callable[[str], bool]:
    """Full match of a pattern whose only wildcard is `*`, without a regex engine.

    Greedy leftmost search is exact for `*`-only globs: anchor the first literal at the
    start (unless the pattern starts with `*`) and the last at the end (unless it ends with
    `*`), then find each middle literal in order between them. Linear in the input, and no
    per-call encoding cost as with the re2 binding.
    """
    segs = [p for p in parts if isinstance(p, str)]
    lead = parts[0] is STAR
    trail = parts[-1] is STAR
    head = "" if lead else segs.pop(0)
    tail = "" if trail or not segs else segs.pop()
    mids = tuple(segs)
    hl, tl = len(head), len(tail)

    def match(s: str) -> bool:
        if head and not s.startswith(head):
            return False
        end = len(s) - tl
        if tail and not s.endswith(tail):
            return False
        pos = hl
        if pos > end:
            return False
        for seg in mids:
            i = s.find(seg, pos, end)
            if i < 0:
                return False
            pos = i + len(seg)
        return True
    return match
