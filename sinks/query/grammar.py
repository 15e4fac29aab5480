r"""The search query language, parsed once per query with pyparsing into `ast` nodes.

Lucene/KQL style, so operators who know Kibana or Lucene can type it unprompted:

    process.name:sshd AND "Failed password" AND NOT source.ip:10.0.0.0/8
    http.response.status_code:[500 TO 599]   status_code>=500   {a TO b}   [a TO *]
    user.name:adm*   host.name:web-?   _exists_:user.name   user.name:*   user.name:/adm(in)?[0-9]*/
    @timestamp>now-15m   process.name:(sshd OR sudo)   -tags:test

Precedence, tightest first: NOT (`NOT`, `!`, a leading `-`), AND (`AND`, `&&`, or nothing
between two clauses: implicit AND), OR (`OR`, `||`). Keywords are case-insensitive as in KQL;
quote a value to search for the word itself ("not"). Inside a bare word a backslash escapes
the next character (`C\:\\temp`, `\*`). Quoted values are phrases (full-text fields) or exact
values (keyword fields) and never wildcards.

Errors raise QueryError(message, position) with a 0-based character position.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import pyparsing as pp

from . import datemath, fields
from .ast import And, Cidr, Exists, Match, MatchAll, Node, Not, Or, Range, Regexp, Wildcard, with_field
from .regex import RegexError, compile_regex


class QueryError(ValueError):
    """A query the user must fix; `position` is the 0-based offset into the query text."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position})"

    def pointer(self, query: str) -> str:
        """The query with a caret under the offending character, for terminals."""
        return f"{query}\n{' ' * self.position}^"


_WORD_CHARS = r'(?:\\.|[^\s()\[\]{}"\\:<>])'
_FIELD = r"[A-Za-z_@][A-Za-z0-9_.@\-]*"
_KEYWORDS = {"and", "or", "not", "to"}


def _unescape(word: str) -> str:
    return re.sub(r"\\(.)", r"\1", word)


def _has_wildcard(word: str) -> bool:
    return re.search(r"(?<!\\)(?:\\\\)*[*?]", word) is not None


def _searchable(field: str | None, s: str, loc: int) -> None:
    if field in fields.NOT_INDEXED:
        raise pp.ParseFatalException(s, loc, f"{field} is stored but not indexed (as in ECS); search message instead")


def _value_node(field: str | None, raw: str, quoted: bool, s: str, loc: int) -> Node:
    """Turn `field:value` into Match, Wildcard, Cidr, Range (dates) or Exists."""
    _searchable(field, s, loc)
    if quoted:
        if field is not None and fields.kind(field) == "date":
            return _range_node(field, raw, raw, True, True, s, loc)
        if field is None or fields.kind(field) != "ip":
            return Match(field, raw, phrase=True)
        raw = raw.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")  # IPv6 in quotes: same checks as bare
    if raw == "*":
        return Exists(field) if field is not None else MatchAll()
    if _has_wildcard(raw):
        if field is not None and fields.kind(field) not in ("keyword", "text"):
            kind = {"ip": "an IP", "long": "a numeric", "float": "a numeric", "date": "a date"}[fields.kind(field)]
            raise pp.ParseFatalException(s, loc, f"{field} is {kind} field: wildcards work on keyword and full-text "
                                                  f"fields (use a range or a CIDR network instead)")
        # Keep escapes: Wildcard.pattern is in Elasticsearch wildcard syntax.
        return Wildcard(field, re.sub(r"\\([^*?\\])", r"\1", raw))
    value = _unescape(raw)
    if field is not None and "/" in value and fields.kind(field) in ("ip", "keyword"):
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            if fields.kind(field) == "ip":
                raise pp.ParseFatalException(s, loc, f"{field} is an IP field: expected an address or a CIDR network such as 10.0.0.0/8, got {value!r}")
        else:
            return Cidr(field, str(net))
    if field is not None and fields.kind(field) == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise pp.ParseFatalException(s, loc, f"{field} is an IP field: expected an address or a CIDR network such as 10.0.0.0/8, got {value!r}") from None
    if field is not None and fields.kind(field) == "date":
        return _range_node(field, value, value, True, True, s, loc)
    return Match(field, value, phrase=False)


def _range_node(field: str, lower: str | None, upper: str | None, il: bool, iu: bool, s: str, loc: int) -> Range:
    _searchable(field, s, loc)
    kind = fields.kind(field)
    if kind == "text":
        raise pp.ParseFatalException(s, loc, f"{field} is a full-text field: ranges work on keyword, numeric, date and IP fields")
    for bound in (lower, upper):
        if bound is None:
            continue
        if kind == "date" and not datemath.is_date(bound):
            raise pp.ParseFatalException(s, loc, f"{field} is a date: expected a date (2024-05-01, 2024-05-01T10:00:00Z) or date math (now-15m, now-1d/d), got {bound!r}")
        if kind in ("long", "float"):
            try:
                float(bound)
            except ValueError:
                raise pp.ParseFatalException(s, loc, f"{field} is numeric: expected a number, got {bound!r}") from None
        if kind == "ip":
            try:
                ipaddress.ip_address(bound)
            except ValueError:
                raise pp.ParseFatalException(s, loc, f"{field} is an IP field: expected an address, got {bound!r}") from None
    return Range(field, lower, upper, il, iu)


def _build() -> pp.ParserElement:
    LPAR, RPAR = pp.Suppress("("), pp.Suppress(")")
    # Operators are words only when they stand alone: `not-an-ip`, `order`, `android` are values.
    and_kw = pp.Regex(r"(?i)(?:AND(?=[\s(]|$)|&&)")
    or_kw = pp.Regex(r"(?i)(?:OR(?=[\s(]|$)|\|\|)")
    not_kw = pp.Regex(r"(?i)NOT(?=[\s(]|$)") | pp.Literal("!")
    AND, OR, NOT = pp.Suppress(and_kw), pp.Suppress(or_kw), pp.Suppress(not_kw)
    keyword = and_kw | or_kw | pp.Regex(r"(?i)NOT(?=[\s(]|$)")

    field = pp.Regex(_FIELD)
    quoted = pp.QuotedString('"', esc_char="\\", unquote_results=True).set_name("quoted string")
    word = (~keyword + pp.Regex(rf"(?!-){_WORD_CHARS}+")).set_name("value")

    bound = (pp.QuotedString('"', esc_char="\\") | pp.Regex(r'(?:\\.|[^\s\[\]{}"\\])+')).set_name("range bound")
    range_ = (pp.one_of("[ {") + bound + pp.Suppress(pp.Keyword("TO")) + bound + pp.one_of("] }")).set_name("range [a TO b]")
    cmp_op = pp.one_of(">= <= > <")
    cmp_value = (quoted | pp.Regex(rf"{_WORD_CHARS}+")).set_name("value")

    expr = pp.Forward()

    def on_range(s: str, loc: int, t: pp.ParseResults) -> Range:
        f, lo_br, lo, hi, hi_br = t[0], t[1], t[2], t[3], t[4]
        return _range_node(f, None if lo == "*" else lo, None if hi == "*" else hi, lo_br == "[", hi_br == "]", s, loc)

    def on_cmp(s: str, loc: int, t: pp.ParseResults) -> Range:
        f, op, v = t[0], t[1], t[2]
        if op.startswith(">"):
            return _range_node(f, v, None, op == ">=", True, s, loc)
        return _range_node(f, None, v, True, op == "<=", s, loc)

    def on_exists(s: str, loc: int, t: pp.ParseResults) -> Exists:
        _searchable(t[0], s, loc)
        return Exists(t[0])

    def on_group(s: str, loc: int, t: pp.ParseResults) -> Node:
        return with_field(t[1], t[0])

    def on_field_value(quoted_value: bool):
        def action(s: str, loc: int, t: pp.ParseResults) -> Node:
            return _value_node(t[0], t[1], quoted_value, s, loc)
        return action

    def on_bare(quoted_value: bool):
        def action(s: str, loc: int, t: pp.ParseResults) -> Node:
            return _value_node(None, t[0], quoted_value, s, loc)
        return action

    def on_regex(s: str, loc: int, t: pp.ParseResults) -> Regexp:
        f, body = t[0], t[1]
        _searchable(f, s, loc)
        at = s.index(":", loc) + 2                       # the pattern's first character
        if fields.kind(f) not in ("keyword", "text"):
            kind = {"ip": "an IP", "long": "a numeric", "float": "a numeric", "date": "a date"}[fields.kind(f)]
            raise pp.ParseFatalException(s, at - 1, f"{f} is {kind} field: regexes work on keyword and full-text fields")
        pattern = body[1:-1].replace("\\/", "/")
        try:
            compile_regex(pattern)
        except RegexError as exc:
            raise pp.ParseFatalException(s, at + exc.offset, exc.message) from None
        return Regexp(f, pattern)

    colon = pp.Suppress(pp.Literal(":"))
    exists = (pp.Suppress(pp.Keyword("_exists_") + pp.Literal(":")) + field).set_parse_action(on_exists)
    field_range = (field + colon + range_).set_parse_action(on_range)
    field_cmp = (field + pp.Optional(colon) + cmp_op + cmp_value).set_parse_action(on_cmp)
    field_group = (field + colon + pp.Group(LPAR + expr + RPAR)).set_parse_action(lambda s, l, t: with_field(t[1][0], t[0]))
    field_quoted = (field + colon + quoted).set_parse_action(on_field_value(True))
    field_word = (field + colon + word).set_parse_action(on_field_value(False))
    # Lucene's /regex/; the closing slash must end the term, so url.path:/a/b stays a value
    regex = pp.Regex(r"/(?:\\.|[^/\\])*/(?=[\s()]|$)").set_name("regex")
    field_regex = (field + colon + regex).set_parse_action(on_regex)
    bare_quoted = quoted.copy().set_parse_action(on_bare(True))
    bare_word = word.copy().set_parse_action(on_bare(False))
    group = (LPAR + expr + RPAR)

    primary = (exists | field_range | field_cmp | field_group | field_quoted | field_regex | field_word | group | bare_quoted
               | bare_word).set_name("search term")

    not_expr = pp.Forward()
    minus = pp.Suppress(pp.Regex(r"-(?=\S)"))
    plus = pp.Suppress(pp.Regex(r"\+(?=\S)"))
    not_expr <<= ((NOT | minus) + not_expr).set_parse_action(lambda t: Not(t[0])) | (pp.Optional(plus) + primary)
    and_expr = (not_expr + pp.ZeroOrMore(pp.Optional(AND) + not_expr)).set_parse_action(
        lambda t: t[0] if len(t) == 1 else And(tuple(t)))
    or_expr = (and_expr + pp.ZeroOrMore(OR + and_expr)).set_parse_action(
        lambda t: t[0] if len(t) == 1 else Or(tuple(t)))
    expr <<= or_expr
    return expr


_GRAMMAR = _build()


MAX_DEPTH = 64  # parentheses; a deeper query is refused before pyparsing recurses into it


def _precheck(q: str) -> None:
    """Clearer messages than a parser can give for unbalanced quotes and parentheses."""
    depth = 0
    opened: list[int] = []
    i = 0
    in_quote = -1
    while i < len(q):
        ch = q[i]
        if ch == "\\":
            i += 2
            continue
        if in_quote >= 0:
            if ch == '"':
                in_quote = -1
        elif ch == '"':
            in_quote = i
        elif ch == "(":
            depth += 1
            opened.append(i)
            if depth > MAX_DEPTH:
                raise QueryError(f"parentheses nest deeper than {MAX_DEPTH}: flatten the query", i)
        elif ch == ")":
            if depth == 0:
                raise QueryError("unmatched ')'", i)
            depth -= 1
            opened.pop()
        i += 1
    if in_quote >= 0:
        raise QueryError('unterminated quoted string: add the closing "', in_quote)
    if opened:
        raise QueryError("unclosed '(': add the closing ')'", opened[-1])


@lru_cache(maxsize=256)
def parse(query: str) -> Node:
    """Parse a query string into an AST (cached: the same text is parsed once)."""
    if not query.strip():
        return MatchAll()
    _precheck(query)
    try:
        result = _GRAMMAR.parse_string(query, parse_all=True)
    except RecursionError:  # e.g. thousands of NOTs in a row: the parser's stack, not the user's fault alone
        raise QueryError("the query nests too deeply (operators in a row or parentheses): simplify it", 0) from None
    except pp.ParseFatalException as exc:
        raise QueryError(exc.msg, exc.loc) from None
    except pp.ParseException as exc:
        loc = exc.loc
        rest = query[loc:].strip()
        token = rest.split()[0] if rest else ""
        words = query.split()
        if words and (words[0].lower() in ("and", "or") or words[0] in ("&&", "||")):
            loc, msg = query.index(words[0]), f"unexpected {words[0]!r}: expected a search term before it"
        elif words and (words[-1].lower() in _KEYWORDS or words[-1] in ("&&", "||", "!", "-")):
            loc, msg = query.rindex(words[-1]), f"query ends early: expected a search term after {words[-1]!r}"
        elif not rest:
            msg = "query ends early: expected a search term"
        elif rest.startswith((":[", ":{", "[", "{")):
            msg = "expected a range such as [a TO b], {a TO b} or [a TO *]"
        elif rest.startswith(":"):
            field = re.findall(_FIELD, query[:loc])
            msg = f"expected a value after '{field[-1] if field else ''}:' (quote values that contain spaces or colons)"
        elif token.lower() in _KEYWORDS or token in ("&&", "||"):
            msg = f"unexpected {token!r}: expected a search term before it"
        else:
            msg = f"unexpected {token[:30]!r}"
        raise QueryError(msg, loc) from None
    return result[0]
