"""`field:/regex/`: RE2 syntax and semantics, compiled for both backends from one parse.

A pattern is first checked by RE2 itself (google-re2): what RE2 refuses (backreferences,
lookaround) is refused here, and nothing accepted can take more than linear time, because
neither backend backtracks either (tantivy runs a DFA over the term dictionary,
Elasticsearch a Lucene automaton). The pattern must match a whole value, as Elasticsearch's
`regexp` query and tantivy's regex query do: `user.name:/adm.*/`, `url.path:/.*\\.php/`.

The two backends speak different regex dialects (tantivy: Rust regex, close to RE2;
Elasticsearch: Lucene's RegExp, where `@ & ~ < > #` are operators and `\\d`, `^`, `(?i)`
do not exist), so the pattern is parsed once (Python's regex parser, whose syntax RE2's is
a subset of for everything accepted here) and written out in each dialect from that tree.
Constructs that cannot be written the same in both are refused with the column to fix:
anchors other than at the ends (`^`/`$` at the ends are no-ops on a whole-value match),
`\\b`, flags other than a leading `(?i)`, negated classes inside `[...]`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

try:  # Python 3.11+: the parser lives in re._parser
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

import re2

MAX_PATTERN = 1000            # characters; longer patterns are refused
MAX_REPEAT = 1000             # RE2's own limit for {n,m}
_RUST_META = set("\\.+*?()|[]{}^$#&-~")
_LUCENE_SAFE = re.compile(r"[A-Za-z0-9_]")
_CATEGORIES = {
    C.CATEGORY_DIGIT: [("0", "9")],
    C.CATEGORY_WORD: [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")],
    C.CATEGORY_SPACE: [("\t", "\t"), ("\n", "\n"), ("\f", "\f"), ("\r", "\r"), (" ", " ")],
}
_NOT_CATEGORIES = {C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT, C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
                   C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE}


# RE2 syntax the parser below would read differently: refused rather than mistranslated
_DIALECT_GAPS = (
    (re.compile(r"\[:\^?[a-z]+:\]"), "POSIX classes such as [[:alpha:]] are not supported here; write [A-Za-z]"),
    (re.compile(r"(?<!\\)\{,"), "{,n} is a literal in RE2; write {0,n} for a repetition or \\{ for the brace"),
)


class RegexError(ValueError):
    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset   # into the pattern


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str           # as written (RE2 syntax)
    rust: str              # for tantivy's regex query (whole term)
    lucene: str            # for Elasticsearch's regexp query (whole term)
    case_insensitive: bool


def _rust_char(c: str) -> str:
    if c in _RUST_META:
        return "\\" + c
    if c.isprintable() and c != " ":
        return c
    return f"\\x{{{ord(c):x}}}"


def _lucene_char(c: str) -> str:
    # Lucene RegExp: a backslash makes any character literal, so escape all but word characters
    return c if _LUCENE_SAFE.match(c) else "\\" + c


def _class_rust(c: str) -> str:
    return "\\" + c if c in "\\]^-[&~" else _rust_char(c) if not c.isprintable() or c == " " else c


def _class_lucene(c: str) -> str:
    return c if _LUCENE_SAFE.match(c) else "\\" + c


class _Writer:
    def __init__(self, pattern: str):
        self.pattern = pattern

    def fail(self, what: str) -> RegexError:
        return RegexError(f"regex: {what} cannot be searched the same way on both backends; rewrite it "
                          f"(e.g. [0-9] for \\d inside a negated class, a leading (?i) for case)", 0)

    def ranges(self, items: list) -> tuple[bool, list[tuple[str, str]]]:
        lone = [i for i in items if i[0] is not C.NEGATE]
        if len(lone) == 1 and lone[0][0] is C.CATEGORY and lone[0][1] in _NOT_CATEGORIES:
            # \D, \W, \S (alone, or alone in a class): the complement of the positive class
            return len(lone) == len(items), _CATEGORIES[_NOT_CATEGORIES[lone[0][1]]]
        negate = False
        out: list[tuple[str, str]] = []
        for op, av in items:
            if op is C.NEGATE:
                negate = True
            elif op is C.LITERAL:
                out.append((chr(av), chr(av)))
            elif op is C.RANGE:
                out.append((chr(av[0]), chr(av[1])))
            elif op is C.CATEGORY and av in _CATEGORIES:
                out += _CATEGORIES[av]
            else:
                raise self.fail("a negated class such as \\D or \\W inside [...]")
        return negate, out

    def klass(self, negate: bool, ranges: list[tuple[str, str]]) -> tuple[str, str]:
        rust = "".join(_class_rust(a) if a == b else f"{_class_rust(a)}-{_class_rust(b)}" for a, b in ranges)
        luc = "".join(_class_lucene(a) if a == b else f"{_class_lucene(a)}-{_class_lucene(b)}" for a, b in ranges)
        hat = "^" if negate else ""
        return f"[{hat}{rust}]", f"[{hat}{luc}]"

    def seq(self, items: list, top: bool = False) -> tuple[str, str]:
        rust, luc = [], []
        for i, (op, av) in enumerate(items):
            if op is C.AT:
                at_edge = top and ((i == 0 and av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING)) or
                                   (i == len(items) - 1 and av in (C.AT_END, C.AT_END_STRING)))
                if not at_edge:
                    raise self.fail("an anchor (^, $, \\b) inside the pattern")
                continue   # the whole value is matched anyway
            r, l_ = self.node(op, av)
            rust.append(r)
            luc.append(l_)
        return "".join(rust), "".join(luc)

    def node(self, op, av) -> tuple[str, str]:
        if op is C.LITERAL:
            c = chr(av)
            return _rust_char(c), _lucene_char(c)
        if op is C.NOT_LITERAL:
            return self.klass(True, [(chr(av), chr(av))])
        if op is C.ANY:
            return "[^\\n]", "[^\n]"            # RE2's `.` without (?s): anything but a newline
        if op is C.IN:
            return self.klass(*self.ranges(av))
        if op is C.CATEGORY:
            if av in _CATEGORIES:
                return self.klass(False, _CATEGORIES[av])
            if av in _NOT_CATEGORIES:
                return self.klass(True, _CATEGORIES[_NOT_CATEGORIES[av]])
            raise self.fail("this escape")
        if op is C.BRANCH:
            alts = [self.seq(list(a)) for a in av[1]]
            return "(?:" + "|".join(r for r, _ in alts) + ")", "(" + "|".join(l_ for _, l_ in alts) + ")"
        if op is C.SUBPATTERN:
            _, add, delete, sub = av
            if add or delete:
                raise self.fail("a flag group such as (?i:...) or (?s)")
            r, l_ = self.seq(list(sub))
            return f"(?:{r})", f"({l_})"
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            if lo > MAX_REPEAT or (hi is not C.MAXREPEAT and hi > MAX_REPEAT):
                raise RegexError(f"regex: repetition counts are limited to {MAX_REPEAT}", 0)
            r, l_ = self.seq(list(sub))
            if hi is C.MAXREPEAT:
                q = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
            elif lo == 0 and hi == 1:
                q = "?"
            else:
                q = f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
            return f"(?:{r}){q}", f"({l_}){q}"
        raise self.fail(f"the construct {str(op).lower()}")


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Regex:
    """Check `pattern` with RE2 and write it for both backends; RegexError(message, offset)."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"regex: at most {MAX_PATTERN} characters, got {len(pattern)}", MAX_PATTERN)
    if not pattern:
        raise RegexError("regex: empty pattern (use field:* for any value)", 0)
    opts = re2.Options()
    opts.log_errors = False
    try:
        re2.compile(pattern, opts)
    except re2.error as exc:
        msg = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        _, _, snippet = msg.rpartition(": ")         # RE2 names the offending text, not its offset
        at = pattern.find(snippet) if snippet else -1
        raise RegexError(f"regex: {msg}", max(at, 0)) from None
    for rx, what in _DIALECT_GAPS:
        m = rx.search(pattern)
        if m:
            raise RegexError(f"regex: {what}", m.start())
    icase = False
    body = pattern
    if body.startswith("(?i)"):
        icase, body = True, body[4:]
    try:
        tree = sre_parse.parse(body)
    except re.error as exc:
        raise RegexError(f"regex: {exc.msg}", (exc.pos or 0) + (4 if icase else 0)) from None
    if tree.state.flags & ~(re.UNICODE | getattr(re, "NOFLAG", 0)) & (re.I | re.M | re.S | re.X):
        raise RegexError("regex: flags other than a leading (?i) are not supported", 0)
    rust, lucene = _Writer(pattern).seq(list(tree), top=True)
    return Regex(pattern, ("(?i)" if icase else "") + rust, lucene, icase)
