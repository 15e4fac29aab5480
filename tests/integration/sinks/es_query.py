"""The query side of the local Elasticsearch test server (tests/integration/sinks/es_server.py):
evaluation of the query DSL Logwarden emits and the date_histogram aggregation, typed by
the index template's mapping and its `default` analyzer, as the Elasticsearch reference
describes them.
"""
from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from sinks_corpus import wildcard_regex


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out[prefix + k] = v
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def _get(doc: dict[str, Any], path: str) -> list[Any]:
    v = _flatten(doc).get(path)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


_NOW_MATH = re.compile(r"^now-(\d+)([smhd])$")


def _resolve_now(v: Any) -> Any:
    """`now-<n><unit>` (the only date math the sink sends) as an ISO string comparable to @timestamp."""
    m = _NOW_MATH.match(v) if isinstance(v, str) else None
    if not m:
        return v
    seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    t = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_PATTERNS = {"[^\\p{L}\\p{N}]+": r"[\W_]+"}   # Java pattern-tokenizer regexes we can translate


class Matcher:
    """Query DSL evaluation over one index's documents, typed by its template mapping.

    Text fields (text, match_only_text) are analysed with the index's `default` analyzer
    when the template defines a pattern tokenizer + lowercase + length filter, otherwise
    with an approximation of the standard analyzer (Unicode words, lower-cased).
    """

    def __init__(self, types: dict[str, str], settings: dict[str, Any]):
        self.types = types
        self.split = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)")   # standard-ish: keeps 10.0.0.5 together
        self.max_len = 255
        default = settings.get("analysis", {}).get("analyzer", {}).get("default")
        if default:
            tok = settings["analysis"].get("tokenizer", {}).get(default.get("tokenizer"), {})
            if tok.get("type") != "pattern" or tok.get("pattern") not in _PATTERNS:
                raise ValueError("the test server supports only pattern-tokenizer default analyzers")
            self.split = re.compile(_PATTERNS[tok["pattern"]])
            for name in default.get("filter", []):
                f = settings["analysis"].get("filter", {}).get(name, {})
                if f.get("type") == "length":
                    self.max_len = int(f.get("max", self.max_len))

    def tokens(self, text: str) -> list[str]:
        return [t.lower() for t in self.split.split(text) if t and len(t) <= self.max_len]

    def kind(self, field: str) -> str:
        t = self.types.get(field, "keyword")
        return "text" if t in ("text", "match_only_text") else t

    # -- leaf semantics -----------------------------------------------------------------

    def _equal(self, field: str, v: Any, value: Any) -> bool:
        kind = self.kind(field)
        if kind == "ip":
            try:
                if isinstance(value, str) and "/" in value:
                    return ipaddress.ip_address(v) in ipaddress.ip_network(value, strict=False)
                return ipaddress.ip_address(v) == ipaddress.ip_address(value)
            except ValueError:
                raise _Lenient(f"failed to create query: '{value}' is not an IP string literal.") from None
        if kind in ("long", "float"):
            try:
                return float(v) == float(value)
            except (TypeError, ValueError):
                raise _Lenient(f"failed to create query: For input string: \"{value}\"") from None
        if isinstance(v, bool):
            return str(v).lower() == str(value).lower()
        return str(v) == str(value)

    def _text(self, v: Any, query: str, operator: str, phrase: bool) -> bool:
        toks, want = self.tokens(str(v)), self.tokens(query)
        if not want:
            return False
        if phrase:
            return any(toks[i:i + len(want)] == want for i in range(len(toks) - len(want) + 1))
        hits = [w in toks for w in want]
        return all(hits) if operator == "and" else any(hits)

    def match(self, field: str, doc: dict[str, Any], query: Any, operator: str = "or", phrase: bool = False) -> bool:
        values = _get(doc, field)
        if self.kind(field) == "text":
            return any(self._text(v, str(query), operator, phrase) for v in values)
        return any(self._equal(field, v, query) for v in values)

    def wildcard(self, field: str, doc: dict[str, Any], pattern: str, ci: bool) -> bool:
        if self.kind(field) not in ("text", "keyword"):
            raise QueryShardError(f"Can only use wildcard queries on keyword and text fields - not on [{field}] "
                                  f"which is of type [{self.types.get(field)}]")
        rx = wildcard_regex(pattern.lower() if ci else pattern, re.I if ci else 0)
        values = _get(doc, field)
        if self.kind(field) == "text":
            return any(rx.fullmatch(t) for v in values for t in self.tokens(str(v)))
        return any(isinstance(v, str) and rx.fullmatch(v) for v in values)

    def in_range(self, field: str, v: Any, b: dict[str, Any]) -> bool:
        kind = self.kind(field)
        conv: Any = str
        if kind == "ip":
            conv = lambda x: ipaddress.ip_address(x)  # noqa: E731
        elif kind in ("long", "float"):
            conv = float
        elif kind == "date":
            conv = lambda x: datetime.fromisoformat(str(_resolve_now(x)))  # noqa: E731
        try:
            v = conv(v)
            for op, bound in b.items():
                bound = conv(bound)
                if (op == "gte" and not v >= bound) or (op == "gt" and not v > bound) or \
                   (op == "lte" and not v <= bound) or (op == "lt" and not v < bound):
                    return False
        except (TypeError, ValueError):
            return False
        return True

    # -- compound ---------------------------------------------------------------------

    def __call__(self, q: dict[str, Any], doc: dict[str, Any], doc_id: str) -> bool:
        (kind, body), = q.items()
        if kind == "match_all":
            return True
        if kind == "term":
            (field, value), = body.items()
            value = value["value"] if isinstance(value, dict) else value
            return any(self._equal(field, v, value) for v in _get(doc, field))
        if kind == "terms":
            (field, values), = body.items()
            return any(self._equal(field, v, x) for v in _get(doc, field) for x in values)
        if kind == "ids":
            return doc_id in body["values"]
        if kind == "exists":
            return bool(_get(doc, body["field"]))
        if kind == "range":
            (field, b), = body.items()
            return any(self.in_range(field, v, b) for v in _get(doc, field))
        if kind in ("match", "match_phrase"):
            (field, spec), = body.items()
            spec = spec if isinstance(spec, dict) else {"query": spec}
            return self.match(field, doc, spec["query"], spec.get("operator", "or").lower(), kind == "match_phrase")
        if kind == "multi_match":
            fields = body.get("fields") or list(self.types)
            phrase = body.get("type", "best_fields") == "phrase"
            for field in fields:
                try:
                    if self.match(field, doc, body["query"], body.get("operator", "or").lower(), phrase):
                        return True
                except _Lenient:
                    if not body.get("lenient"):
                        raise
            return False
        if kind == "wildcard":
            (field, spec), = body.items()
            spec = spec if isinstance(spec, dict) else {"value": spec}
            return self.wildcard(field, doc, spec["value"], bool(spec.get("case_insensitive")))
        if kind == "regexp":
            (field, spec), = body.items()
            spec = spec if isinstance(spec, dict) else {"value": spec}
            if self.kind(field) not in ("text", "keyword"):
                raise QueryShardError(f"Can only use regexp queries on keyword and text fields - not on [{field}] "
                                      f"which is of type [{self.types.get(field)}]")
            if spec.get("flags", "ALL") != "NONE":
                raise ValueError("the test server supports regexp with flags NONE only")
            rx = lucene_regex(spec["value"], bool(spec.get("case_insensitive")))
            values = _get(doc, field)
            if self.kind(field) == "text":
                return any(rx.fullmatch(t) for v in values for t in self.tokens(str(v)))
            return any(isinstance(v, str) and rx.fullmatch(v) for v in values)
        if kind == "query_string":
            # Only what Logwarden sends: one (wildcard) term over a field list.
            text = body["query"]
            if re.search(r"(?<!\\)[\s()]", text):
                raise ValueError("the test server supports query_string with a single term only")
            pattern = re.sub(r"\\([^*?\\])", r"\1", text)
            for field in body.get("fields") or list(self.types):
                if self.kind(field) in ("text", "keyword") and self.wildcard(field, doc, pattern, self.kind(field) == "text"):
                    return True
            return False
        if kind == "bool":
            musts = list(body.get("must", [])) + list(body.get("filter", []))
            if isinstance(body.get("must"), dict) or isinstance(body.get("filter"), dict):
                raise ValueError("bool clauses as objects are not supported by the test server")
            if not all(self(c, doc, doc_id) for c in musts):
                return False
            if any(self(c, doc, doc_id) for c in body.get("must_not", [])):
                return False
            should = body.get("should", [])
            return not should or any(self(c, doc, doc_id) for c in should)
        raise ValueError(f"query [{kind}] is not supported by the test server")


class QueryShardError(ValueError):
    """A query the mapping cannot run (Elasticsearch answers 400 query_shard_exception)."""


class _Lenient(ValueError):
    """A value that does not parse for the field's type (ignored under `lenient`)."""


def _date_histogram(spec: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """`date_histogram` with `fixed_interval` in seconds, `min_doc_count: 0` and `extended_bounds`."""
    body = spec.get("date_histogram")
    if not body or not str(body.get("fixed_interval", "")).endswith("s"):
        raise ValueError("the test server supports only date_histogram with fixed_interval in seconds")
    step = int(body["fixed_interval"][:-1]) * 1000
    counts: dict[int, int] = defaultdict(int)
    for d in docs:
        for v in _get(d, body["field"]):
            ms = int(datetime.fromisoformat(str(v)).timestamp() * 1000)
            counts[ms - ms % step] += 1
    keys = set(counts)
    bounds = body.get("extended_bounds")
    if bounds:
        lo, hi = int(bounds["min"]), int(bounds["max"])
        keys |= set(range(lo - lo % step, hi - hi % step + 1, step))
    if keys and body.get("min_doc_count", 1) == 0:
        keys = set(range(min(keys), max(keys) + 1, step))
    buckets = [{"key_as_string": datetime.fromtimestamp(k / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "key": k, "doc_count": counts.get(k, 0)} for k in sorted(keys)
               if counts.get(k, 0) >= body.get("min_doc_count", 1)]
    return {"buckets": buckets}


# -- aggregations and sort (the Elasticsearch aggregation and sort references) -----------

def _number_kind(kind: str) -> bool:
    return kind in ("long", "integer", "short", "byte", "float", "double", "scaled_float", "half_float")


def _typed(matcher: Matcher, field: str, v: Any) -> Any:
    """A doc value as Elasticsearch's doc values hold it: dates as epoch ms, numbers as numbers."""
    kind = matcher.kind(field)
    if kind == "date":
        return int(datetime.fromisoformat(str(v)).timestamp() * 1000)
    if _number_kind(kind):
        f = float(v)
        return int(f) if kind in ("long", "integer", "short", "byte") else f
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, (int, float)) and kind not in ("keyword", "ip", "text") else str(v)


def _values(matcher: Matcher, doc: dict[str, Any], field: str) -> list[Any]:
    out = []
    for v in _get(doc, field):
        if isinstance(v, (dict, list)) or v is None:
            continue
        try:
            out.append(_typed(matcher, field, v))
        except (TypeError, ValueError):
            continue   # ignore_malformed-like: a value that does not fit the mapping is skipped
    return out


def _require_numeric(matcher: Matcher, field: str, agg: str) -> None:
    kind = matcher.kind(field)
    if not (_number_kind(kind) or kind == "date") and field in matcher.types:
        raise QueryShardError(f"Field [{field}] of type [{matcher.types[field]}] is not supported for aggregation [{agg}]")


def _percentile(sorted_values: list[float], p: float) -> float:
    """Linear interpolation between the closest ranks (what a TDigest gives for few points)."""
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = p / 100 * (len(sorted_values) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo))


def aggregate(aggs: dict[str, Any], docs: list[dict[str, Any]], matcher: Matcher) -> dict[str, Any]:
    """terms (with sub-aggregations), missing, min, max, stats, percentiles, date_histogram."""
    out: dict[str, Any] = {}
    for name, spec in aggs.items():
        sub = spec.get("aggs") or spec.get("aggregations")
        kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
        if len(kinds) != 1:
            raise ValueError(f"aggregation [{name}] needs exactly one type")
        kind, body = kinds[0], spec[kinds[0]]
        field = body.get("field")
        if kind == "date_histogram":
            res = _date_histogram({kind: body}, docs)
            if sub:
                step = int(body["fixed_interval"][:-1]) * 1000
                for b in res["buckets"]:
                    inside = [d for d in docs if any(int(datetime.fromisoformat(str(v)).timestamp() * 1000) // step * step == b["key"]
                                                     for v in _get(d, body["field"]))]
                    b.update(aggregate(sub, inside, matcher))
            out[name] = res
        elif kind == "terms":
            if matcher.kind(field) == "text":
                raise QueryShardError(f"Text fields are not optimised for operations that require per-document field data "
                                      f"like aggregations and sorting, so these operations are disabled by default. "
                                      f"Please use a keyword field instead. [{field}]")
            counts: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            for d in docs:
                for v in dict.fromkeys(_values(matcher, d, field)):
                    counts[v].append(d)
            if body.get("order"):
                raise ValueError("the test server supports terms ordered by count only")
            ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            size = int(body.get("size", 10))
            buckets = []
            for key, ds in ranked[:size]:
                b: dict[str, Any] = {"key": key, "doc_count": len(ds)}
                if sub:
                    b.update(aggregate(sub, ds, matcher))
                buckets.append(b)
            out[name] = {"doc_count_error_upper_bound": 0,
                         "sum_other_doc_count": sum(len(ds) for _, ds in ranked[size:]), "buckets": buckets}
        elif kind == "missing":
            out[name] = {"doc_count": sum(1 for d in docs if not _values(matcher, d, field))}
        elif kind in ("min", "max", "stats", "percentiles"):
            _require_numeric(matcher, field, kind)
            vals = sorted(v for d in docs for v in _values(matcher, d, field) if isinstance(v, (int, float)))
            if kind in ("min", "max"):
                out[name] = {"value": (float(vals[0] if kind == "min" else vals[-1]) if vals else None)}
            elif kind == "stats":
                out[name] = {"count": len(vals), "min": float(vals[0]) if vals else None, "max": float(vals[-1]) if vals else None,
                             "avg": sum(vals) / len(vals) if vals else None, "sum": float(sum(vals))}
            else:
                out[name] = {"values": {f"{float(p)}": (_percentile(vals, float(p)) if vals else None)
                                        for p in body.get("percents", [1, 5, 25, 50, 75, 95, 99])}}
        else:
            raise ValueError(f"aggregation [{kind}] is not supported by the test server")
    return out


def sort_key(matcher: Matcher, spec: list[dict[str, Any]], doc: dict[str, Any]) -> list[Any]:
    """The hit's sort values (`sort` in the answer): arrays sort by min (asc) or max (desc)."""
    values = []
    for clause in spec:
        (field, opts), = clause.items()
        opts = opts if isinstance(opts, dict) else {"order": opts}
        vs = _values(matcher, doc, field)
        if not vs:
            values.append(None)
            continue
        values.append(max(vs) if opts.get("order", "asc") == "desc" else min(vs))
    return values


def compare(spec: list[dict[str, Any]], a: list[Any], b: list[Any]) -> int:
    """-1/0/1: `a` before, with or after `b` in this sort (missing values last, `_last`)."""
    for clause, x, y in zip(spec, a, b):
        (_, opts), = clause.items()
        opts = opts if isinstance(opts, dict) else {"order": opts}
        if opts.get("missing", "_last") != "_last":
            raise ValueError("the test server supports missing: _last only")
        if x == y:
            continue
        if x is None:
            return 1
        if y is None:
            return -1
        less = x < y
        desc = opts.get("order", "asc") == "desc"
        return (1 if less else -1) if desc else (-1 if less else 1)
    return 0


def lucene_regex(pattern: str, case_insensitive: bool) -> "re.Pattern[str]":
    """Lucene RegExp syntax with flags NONE (the core: . * + ? {n,m} | ( ) [ ] and `\\` escapes;
    `@ & ~ < > #` are plain characters) as a Python regex for whole-term matching."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise QueryShardError("failed to create query: expected character after \\")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "[":
            j = i + 1
            body = []
            if j < len(pattern) and pattern[j] == "^":
                body.append("^")
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < len(pattern):
                    body.append(re.escape(pattern[j + 1]))
                    j += 2
                elif pattern[j] == "-":
                    body.append("-")
                    j += 1
                else:
                    body.append(re.escape(pattern[j]))
                    j += 1
            if j >= len(pattern):
                raise QueryShardError("failed to create query: expected ']'")
            out.append("[" + "".join(body) + "]")
            i = j + 1
            continue
        if c == '"':
            raise ValueError("the test server does not support quoted strings in regexp")
        if c == ".":
            out.append("(?s:.)")
        elif c in "*+?|(){}," or c.isdigit():
            out.append(c)
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.I if case_insensitive else 0)
