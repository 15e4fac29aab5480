"""Discover's field list, from a sample of the matching events (as Kibana's sidebar does).

Listing fields is a question about documents, not about the index: neither tantivy nor
Elasticsearch answers "which fields do these hits have" cheaply. Like Kibana, this looks at
the newest FIELDS_SAMPLE matching events: every leaf field they hold, its ECS type (or the
type its values suggest), how many of the sampled events have it and its top values there.
Both backends return the same sample, so both give the same answer.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from logwarden.events import flatten
from logwarden.sinks.query import fields

FIELDS_SAMPLE = 500      # Kibana's discover:sampleSize
MAX_SAMPLE = 5000
TOP_VALUES = 10
_SKIP = frozenset({"event.original"})   # stored, not indexed: not a field to filter on


def _type(field: str, values: list[Any]) -> str:
    kind = fields.kind(field)
    if kind != "keyword" or field in fields.DEFAULT_KEYWORD_FIELDS:
        return kind
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "long"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return "keyword"


def field_summary(hits: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """{"total", "sample", "fields": [{"name", "type", "count", "top": [{"value", "count"}]}]},
    fields sorted by name; `count` and `top` are over the sample."""
    present: Counter[str] = Counter()
    values: dict[str, Counter[Any]] = {}
    seen_values: dict[str, list[Any]] = {}
    scalar = (str, int, float, bool)
    for doc in hits:
        for name, v in flatten(doc).items():
            if v is None or name in _SKIP or name.startswith("alert.events"):
                continue
            c = values.get(name)
            if c is None:
                c = values[name] = Counter()
                seen_values[name] = []
            sample = seen_values[name]
            if isinstance(v, scalar):
                c[v] += 1
                if len(sample) < 50:
                    sample.append(v)
            elif isinstance(v, list):
                vs = [x for x in v if isinstance(x, scalar)]
                if not vs:
                    continue
                for x in dict.fromkeys(vs):
                    c[x] += 1
                if len(sample) < 50:
                    sample.extend(vs[: 50 - len(sample)])
            else:
                continue
            present[name] += 1
    out = []
    for name in sorted(present):
        kind = _type(name, seen_values[name])
        top = [] if kind == "text" else [{"value": v, "count": n} for v, n in
                                         sorted(values[name].items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP_VALUES]]
        out.append({"name": name, "type": kind, "count": present[name], "top": top})
    return {"total": total, "sample": len(hits), "fields": out}
