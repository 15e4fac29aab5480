"""Compile a query AST to a tantivy.Query for the embedded index.

Mapping onto the schema in `logwarden.sinks.tantivy_schema`:

* keyword values (`process.name:sshd`) are term queries on the json field `f` at the
  dotted path; a value that reads as a number, boolean or RFC 3339 instant also matches
  the typed term tantivy stores for JSON numbers, booleans and dates;
* full-text fields and bare words are tokenised the way the index tokenised them (the
  `default` analyser: split on non-alphanumerics, drop tokens over 40 bytes, lower-case):
  one token is a term, several are all required (unquoted) or a phrase (quoted);
* bare words also match, exactly, the keyword fields in fields.DEFAULT_KEYWORD_FIELDS;
* wildcards and `field:/regex/` (RE2, written in Rust syntax by `regex.py`) become
  regexes over the json term encoding `path\\x01…\\x00s<value>`;
* ranges on @timestamp and IP fields use typed range queries; ranges on json paths go
  through tantivy's own query parser, the only API that ranges over a json path;
* CIDR is an address range on the dedicated ip field.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone

import tantivy
from tantivy import FieldType, Occur, Query

from logwarden.sinks import tantivy_schema as S

from . import datemath, fields
from .ast import And, Cidr, Exists, Match, MatchAll, Node, Not, Or, Range, Regexp, Wildcard, wildcard_to_regex
from .grammar import QueryError
from .regex import compile_regex

_ANALYZER = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase()).build()
_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
_RUST_META = set("\\.+*?()|[]{}^$#&-~")
_RANGE_UNSAFE = re.compile(r'[\s()\[\]{}"]')


_MAX_IP = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def tokens(text: str) -> list[str]:
    return _ANALYZER.analyze(text)


def _rx_escape(text: str) -> str:
    return "".join("\\" + c if c in _RUST_META else c for c in text)


def wildcard_regex(pattern: str) -> str:
    """ES wildcard syntax (`*`, `?`, backslash escapes) to a Rust regex body."""
    return wildcard_to_regex(pattern, _rx_escape)


def _json_prefix(path: str) -> str:
    return _rx_escape(path).replace("\\.", "\x01") + "\x00s"


class TantivyCompiler:
    """Compiles against one open index (its schema, and its parser for json ranges)."""

    def __init__(self, index: tantivy.Index, now: datetime | None = None):
        self.index = index
        self.schema = index.schema
        self.now = now or datetime.now(timezone.utc)

    def compile(self, node: Node) -> Query:
        if isinstance(node, MatchAll):
            return Query.all_query()
        if isinstance(node, Match):
            return self._match(node)
        if isinstance(node, Wildcard):
            return self._wildcard(node)
        if isinstance(node, Regexp):
            return self._regexp(node)
        if isinstance(node, Range):
            return self._range(node)
        if isinstance(node, Cidr):
            return self._cidr(node)
        if isinstance(node, Exists):
            return self._exists(node.field)
        if isinstance(node, And):
            clauses = [(Occur.MustNot, self.compile(c.child)) if isinstance(c, Not) else (Occur.Must, self.compile(c)) for c in node.children]
            if all(occ == Occur.MustNot for occ, _ in clauses):
                clauses.append((Occur.Must, Query.all_query()))
            return Query.boolean_query(clauses)
        if isinstance(node, Or):
            return Query.boolean_query([(Occur.Should, self.compile(c)) for c in node.children])
        if isinstance(node, Not):
            return Query.boolean_query([(Occur.Must, Query.all_query()), (Occur.MustNot, self.compile(node.child))])
        raise TypeError(f"unknown query node {node!r}")

    # -- leaves -------------------------------------------------------------------------

    def _text(self, path: str, value: str, phrase: bool) -> Query | None:
        toks = tokens(value)
        field = f"{S.TXT}.{path}"
        if not toks:
            return None
        if len(toks) == 1:
            return Query.term_query(self.schema, field, toks[0])
        if phrase:
            return Query.phrase_query(self.schema, field, toks)
        return Query.boolean_query([(Occur.Must, Query.term_query(self.schema, field, t)) for t in toks])

    def _keyword(self, path: str, value: str) -> Query:
        field = f"{S.KW}.{path}"
        alts = [Query.term_query(self.schema, field, value)]
        if _INT.match(value):
            alts.append(Query.term_query(self.schema, field, int(value)))
        if _FLOAT.match(value):
            alts.append(Query.term_query(self.schema, field, float(value)))
        if value in ("true", "false"):
            alts.append(Query.term_query(self.schema, field, value == "true"))
        if "T" in value and datemath.is_date(value):
            alts.append(Query.term_query(self.schema, field, datemath.parse(value, self.now)))
        return alts[0] if len(alts) == 1 else Query.boolean_query([(Occur.Should, q) for q in alts])

    def _match(self, node: Match) -> Query:
        if node.field is None:
            # IP fields: the exact string too (an unparseable address is kept as a keyword, see
            # tantivy_schema.to_json), besides the address match.
            alts = [Query.term_query(self.schema, f"{S.KW}.{f}", node.value) for f in fields.DEFAULT_KEYWORD_FIELDS]
            alts += self._default_ips(node.value)
            text = self._text(fields.DEFAULT_TEXT_FIELD, node.value, node.phrase)
            if text is not None:
                alts.append(text)
            return Query.boolean_query([(Occur.Should, q) for q in alts])
        kind = fields.kind(node.field)
        if kind == "text":
            return self._text(node.field, node.value, node.phrase) or Query.empty_query()
        if kind == "ip":
            return Query.term_query(self.schema, S.IP_PREFIX + node.field, node.value)
        return self._keyword(node.field, node.value)

    def _default_ips(self, value: str) -> list[Query]:
        """A bare address or network also matches the default IP fields, by address (as
        Elasticsearch's ip fields do inside a multi_match)."""
        paths = [f for f in fields.DEFAULT_KEYWORD_FIELDS if fields.kind(f) == "ip"]
        try:
            ipaddress.ip_address(value)
            return [Query.term_query(self.schema, S.IP_PREFIX + f, value) for f in paths]
        except ValueError:
            pass
        if "/" in value:
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                return []
            return [Query.range_query(self.schema, S.IP_PREFIX + f, FieldType.IpAddr, str(net.network_address),
                                      str(net.broadcast_address), use_inverted_index=True) for f in paths]
        return []

    def _wildcard(self, node: Wildcard) -> Query:
        body = wildcard_regex(node.pattern)
        if node.field is None:
            # IP fields take no wildcards (Elasticsearch refuses them; lenient multi-field skips them)
            paths = "|".join(_json_prefix(f)[:-2] for f in fields.DEFAULT_KEYWORD_FIELDS if fields.kind(f) != "ip")
            return Query.boolean_query([
                (Occur.Should, Query.regex_query(self.schema, S.KW, f"(?:{paths})\x00s{body}")),
                (Occur.Should, Query.regex_query(self.schema, S.TXT, _json_prefix(fields.DEFAULT_TEXT_FIELD) + body.lower())),
            ])
        if fields.kind(node.field) == "text":
            return Query.regex_query(self.schema, S.TXT, _json_prefix(node.field) + body.lower())
        return Query.regex_query(self.schema, S.KW, _json_prefix(node.field) + body)

    def _regexp(self, node: Regexp) -> Query:
        """The RE2 pattern (written in Rust regex syntax) over the terms of one json path:
        whole keyword values, or single lower-cased words of a full-text field (as ES)."""
        rx = compile_regex(node.pattern)
        field = S.TXT if fields.kind(node.field) == "text" else S.KW
        try:
            return Query.regex_query(self.schema, field, _json_prefix(node.field) + rx.rust)
        except ValueError as exc:
            raise QueryError(f"regex {node.pattern!r} is too large for the index's automaton: {exc}", 0) from None

    def _date(self, text: str | None, round_up: bool) -> datetime | None:
        return None if text is None else datemath.parse(text, self.now, round_up)

    def _range(self, node: Range) -> Query:
        kind = fields.kind(node.field)
        if node.lower is None and node.upper is None:
            return self._exists(node.field)
        if node.field == fields.TIMESTAMP:
            # An exclusive lower bound rounds up, an inclusive upper bound rounds up (ES rules).
            lo = self._date(node.lower, round_up=not node.include_lower)
            hi = self._date(node.upper, round_up=node.include_upper)
            return Query.range_query(self.schema, S.TS, FieldType.Date, lo, hi,
                                     include_lower=node.include_lower or lo is None,
                                     include_upper=node.include_upper or hi is None)
        if kind == "ip":
            return Query.range_query(self.schema, S.IP_PREFIX + node.field, FieldType.IpAddr, node.lower, node.upper,
                                     include_lower=node.include_lower or node.lower is None,
                                     include_upper=node.include_upper or node.upper is None, use_inverted_index=True)
        if kind == "date":
            lo = self._date(node.lower, round_up=not node.include_lower)
            hi = self._date(node.upper, round_up=node.include_upper)
            bounds = [None if b is None else b.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for b in (lo, hi)]
        else:
            bounds = [node.lower, node.upper]
            for b in bounds:
                # tantivy's query parser (the only json-path range API) takes bounds literally
                # and has no escape for these characters.
                if b is not None and _RANGE_UNSAFE.search(b):
                    raise QueryError(f"the embedded index cannot use {b!r} as a range bound (spaces, quotes, "
                                     f"brackets and parentheses are not supported there)", 0)
        lo_s = "*" if bounds[0] is None else bounds[0]
        hi_s = "*" if bounds[1] is None else bounds[1]
        text = f"{S.KW}.{node.field}:{'[' if node.include_lower else '{'}{lo_s} TO {hi_s}{']' if node.include_upper else '}'}"
        try:
            return self.index.parse_query(text, [])
        except ValueError as exc:
            raise QueryError(f"cannot range over {node.field}: {exc}", 0) from None

    def _cidr(self, node: Cidr) -> Query:
        net = ipaddress.ip_network(node.network)
        if fields.kind(node.field) != "ip":
            return self._keyword(node.field, node.network)
        return Query.range_query(self.schema, S.IP_PREFIX + node.field, FieldType.IpAddr,
                                 str(net.network_address), str(net.broadcast_address), use_inverted_index=True)

    def _exists(self, field: str) -> Query:
        if field == fields.TIMESTAMP:
            return Query.exists_query(S.TS)
        kind = fields.kind(field)
        if kind == "ip":
            return Query.range_query(self.schema, S.IP_PREFIX + field, FieldType.IpAddr, "::", _MAX_IP, use_inverted_index=True)
        if kind == "text":
            return Query.term_query(self.schema, S.HAS, field)
        return Query.exists_query(f"{S.KW}.{field}", json_subpaths=True)


def compile(node: Node, index: tantivy.Index, now: datetime | None = None) -> Query:
    return TantivyCompiler(index, now).compile(node)
