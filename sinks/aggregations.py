"""What both backends' aggregations share: which fields they take, bucket and stats shapes.

The embedded index runs tantivy's aggregations (terms, stats, percentiles, date_histogram,
on the json fast field `f`), a cluster runs the same-named Elasticsearch aggregations; both
answers are put into one shape here. Percentiles are estimates on both sides (tantivy's
DDSketch, Elasticsearch's TDigest), within about 1 % of the exact value.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from logwarden.sinks.paging import FIELD_NAME, BadParameter
from logwarden.sinks.query import fields
from logwarden.sinks.query.timerange import MAX_BUCKETS, iso_ms, readable_interval_ms

PERCENTS = (50.0, 95.0, 99.0)
SPLIT_TOP = 5            # stacked series of a split histogram (Discover's breakdown shows 5 too)
MAX_TOP = 1000           # size cap of /api/top


def _name(field: str | None, what: str) -> str:
    if not field:
        raise BadParameter(f"{what}: a field name is required (e.g. source.ip)")
    if not FIELD_NAME.match(field) or len(field) > 256:
        raise BadParameter(f"{what}: not a field name: {field[:80]!r}")
    if field in fields.NOT_INDEXED:
        raise BadParameter(f"{what}: {field} is stored but not indexed; use message")
    return field


def keyword_field(field: str | None, what: str = "field") -> str:
    """A field whose values can be counted (keyword, numeric, IP); BadParameter otherwise."""
    field = _name(field, what)
    kind = fields.kind(field)
    if kind == "text":
        raise BadParameter(f"{what}: {field} is a full-text field (its words are not values); count a keyword field")
    if kind == "date":
        raise BadParameter(f"{what}: {field} is a date; use /api/histogram for counts over time")
    return field


def numeric_field(field: str | None, what: str = "field") -> str:
    """A field stats can be taken of: numeric, or a field the schema does not know."""
    field = _name(field, what)
    kind = fields.kind(field)
    if kind in ("text", "ip", "date"):
        raise BadParameter(f"{what}: {field} is {'an IP' if kind == 'ip' else 'a ' + ('full-text' if kind == 'text' else 'date')} "
                           f"field; stats need a numeric field such as http.response.body.bytes")
    return field


def histogram_interval(span_ms: int, buckets: int, interval_ms: int | None) -> int:
    interval = interval_ms or readable_interval_ms(span_ms, buckets)
    if span_ms // interval + 1 > MAX_BUCKETS:
        raise BadParameter(f"interval: {interval // 1000}s gives {span_ms // interval + 1} buckets over this range, "
                           f"at most {MAX_BUCKETS}; use a longer interval or interval=auto")
    return interval


def buckets(raw: list[dict[str, Any]], interval_ms: int) -> list[dict[str, Any]]:
    # one spelling on both backends (ECS's, milliseconds and Z), whatever key_as_string says
    return [{"time": iso_ms(datetime.fromtimestamp(int(b["key"]) / 1000, timezone.utc)),
             "key": int(b["key"]), "count": int(b["doc_count"]), "interval_ms": interval_ms} for b in raw]


def split_result(interval_ms: int, total: list[dict[str, Any]], series: list[dict[str, Any]]) -> dict[str, Any]:
    """The split answer: the total, the top values' series, and `other` (total minus them)."""
    other = []
    for i, b in enumerate(total):
        rest = b["count"] - sum(s["buckets"][i]["count"] for s in series if i < len(s["buckets"]))
        other.append({**b, "count": max(0, rest)})
    return {"interval_ms": interval_ms, "buckets": total, "series": series, "other": other}


def empty_stats(field: str) -> dict[str, Any]:
    return {"field": field, "count": 0, "min": None, "max": None, "avg": None, "sum": None,
            "p50": None, "p95": None, "p99": None}


def _percentile(values: dict[str, Any], p: float) -> float | None:
    for k in (str(p), f"{p:.1f}", str(int(p))):
        if k in values and values[k] is not None:
            return float(values[k])
    return None


def stats_result(field: str, stats: dict[str, Any], percentiles: dict[str, Any]) -> dict[str, Any]:
    if not stats.get("count"):
        return empty_stats(field)
    out = {"field": field, "count": int(stats["count"]), "min": stats.get("min"), "max": stats.get("max"),
           "avg": stats.get("avg"), "sum": stats.get("sum")}
    for p in PERCENTS:
        out[f"p{int(p)}"] = _percentile(percentiles, p)
    return out
