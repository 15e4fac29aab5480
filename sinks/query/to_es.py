"""Compile a query AST to Elasticsearch / OpenSearch query DSL (a dict).

The translation follows what Kibana's KQL compiler emits, so a query means the same on a
real cluster as in the embedded index: bare words become a lenient `multi_match` over
fields.DEFAULT_FIELDS (the embedded index's default fields), field values on keyword/ip/numeric fields are `term`
queries (Elasticsearch coerces "404" for numeric fields and accepts a CIDR for ip
fields), values on full-text fields are `match` (all words) or `match_phrase`, and date
bounds pass through unchanged because Elasticsearch resolves the same date math
(`now-15m/m`). Boolean structure uses `filter`/`must_not`/`should`: hits are sorted by
time, not by score.
"""
from __future__ import annotations

import re
from typing import Any

from . import fields
from .ast import And, Cidr, Exists, Match, MatchAll, Node, Not, Or, Range, Regexp, Wildcard
from .regex import compile_regex

def _number(field: str, text: str) -> int | float | str:
    kind = fields.kind(field)
    if kind in ("long", "float") or re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def compile(node: Node) -> dict[str, Any]:
    """The query DSL object for `node` (put it under `{"query": ...}`)."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Match):
        if node.field is None:
            if node.phrase:
                return {"multi_match": {"query": node.value, "type": "phrase", "fields": list(fields.DEFAULT_FIELDS), "lenient": True}}
            return {"multi_match": {"query": node.value, "type": "best_fields", "operator": "and",
                                    "fields": list(fields.DEFAULT_FIELDS), "lenient": True}}
        if fields.kind(node.field) == "text":
            if node.phrase:
                return {"match_phrase": {node.field: node.value}}
            return {"match": {node.field: {"query": node.value, "operator": "and"}}}
        return {"term": {node.field: node.value}}
    if isinstance(node, Wildcard):
        if node.field is None:
            # One wildcard per default field, as the embedded index matches it: the pattern
            # against each keyword's whole value, and case-insensitively against each single
            # word of the message. Not query_string with analyze_wildcard: that analyzes the
            # pattern, so `10.0.*` became the words 10 and 0* and matched any message with
            # both (real OpenSearch did; the embedded index and the field form do not). IP
            # fields take no wildcards (a cluster refuses them).
            keywords = [{"wildcard": {f: {"value": node.pattern}}} for f in fields.DEFAULT_KEYWORD_FIELDS
                        if fields.kind(f) != "ip"]
            text = {"wildcard": {fields.DEFAULT_TEXT_FIELD: {"value": node.pattern, "case_insensitive": True}}}
            return {"bool": {"should": [text, *keywords], "minimum_should_match": 1}}
        if fields.kind(node.field) == "text":
            return {"wildcard": {node.field: {"value": node.pattern, "case_insensitive": True}}}
        return {"wildcard": {node.field: {"value": node.pattern}}}
    if isinstance(node, Regexp):
        # Lucene syntax written from the RE2 pattern (regex.py); NONE: no optional operators
        rx = compile_regex(node.pattern)
        spec: dict[str, Any] = {"value": rx.lucene, "flags": "NONE"}
        if rx.case_insensitive:
            spec["case_insensitive"] = True
        return {"regexp": {node.field: spec}}
    if isinstance(node, Range):
        body: dict[str, Any] = {}
        if node.lower is not None:
            body["gte" if node.include_lower else "gt"] = _number(node.field, node.lower) if fields.kind(node.field) != "date" else node.lower
        if node.upper is not None:
            body["lte" if node.include_upper else "lt"] = _number(node.field, node.upper) if fields.kind(node.field) != "date" else node.upper
        if not body:
            return {"exists": {"field": node.field}}
        return {"range": {node.field: body}}
    if isinstance(node, Cidr):
        return {"term": {node.field: node.network}}
    if isinstance(node, Exists):
        return {"exists": {"field": node.field}}
    if isinstance(node, And):
        filters = [compile(c) for c in node.children if not isinstance(c, Not)]
        must_not = [compile(c.child) for c in node.children if isinstance(c, Not)]
        out: dict[str, Any] = {}
        if filters:
            out["filter"] = filters
        if must_not:
            out["must_not"] = must_not
        return {"bool": out}
    if isinstance(node, Or):
        return {"bool": {"should": [compile(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile(node.child)]}}
    raise TypeError(f"unknown query node {node!r}")


def with_since(query: dict[str, Any], since_seconds: float | None) -> dict[str, Any]:
    """AND a `@timestamp >= now-<since>` filter onto a compiled query."""
    if not since_seconds:
        return query
    return {"bool": {"filter": [query, {"range": {fields.TIMESTAMP: {"gte": f"now-{int(since_seconds)}s"}}}]}}


def with_window(query: dict[str, Any], window: Any) -> dict[str, Any]:
    """AND a resolved timerange.Window onto a compiled query, as absolute instants (the
    embedded index filters on the same ones, so both backends agree to the millisecond)."""
    from .timerange import iso_ms

    body: dict[str, Any] = {}
    if window.start is not None:
        body["gte"] = iso_ms(window.start)
    if window.end is not None:
        body["lte"] = iso_ms(window.end)
    if not body:
        return query
    return {"bool": {"filter": [query, {"range": {fields.TIMESTAMP: body}}]}}
