"""Elasticsearch index templates (composable `_index_template`) for the documents we write.

Generated from `logwarden.sinks.query.fields`, the same tables the query compilers use,
so a field the embedded index treats as an IP, a date, a number or full text has that
type on a cluster too. Every other string is an ECS `keyword` (ignore_above 1024, like
the ECS templates), so `process.name:sshd` is an exact term in both backends.
"""
from __future__ import annotations

from typing import Any

from logwarden.sinks.query import fields

IGNORE_ABOVE = 1024

# Full text is split the way the embedded index splits it (tantivy's default tokenizer:
# runs of letters and digits, lower-cased, tokens of 40 or more bytes dropped), so
# `message:10.0.0.5` means the words 10 0 0 5 on both backends. Elasticsearch's standard
# analyzer would keep "10.0.0.5" as one token and the backends would disagree.
# `match_only_text` takes no `analyzer` parameter ("text is always analyzed with the default
# analyzer"), so this is installed as the index's analyzer named `default`.
ANALYSIS = {
    "tokenizer": {"logwarden_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
    "filter": {"logwarden_max_token": {"type": "length", "max": 39}},
    "analyzer": {"default": {"type": "custom", "tokenizer": "logwarden_words",
                             "filter": ["lowercase", "logwarden_max_token"]}},
}


def _put(props: dict[str, Any], dotted: str, mapping: dict[str, Any]) -> None:
    parts = dotted.split(".")
    cur = props
    for p in parts[:-1]:
        cur = cur.setdefault(p, {"properties": {}})["properties"]
    cur[parts[-1]] = mapping


def mappings() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in sorted(fields.DATE_FIELDS):
        _put(props, f, {"type": "date"})
    for f in sorted(fields.IP_FIELDS):
        _put(props, f, {"type": "ip"})
    for f in sorted(fields.LONG_FIELDS):
        _put(props, f, {"type": "long"})
    for f in sorted(fields.FLOAT_FIELDS):
        _put(props, f, {"type": "float"})
    for f in sorted(fields.TEXT_FIELDS):
        _put(props, f, {"type": "match_only_text"})
    # ECS: event.original is kept, not searched (the message is).
    _put(props, "event.original", {"type": "keyword", "index": False, "doc_values": False})
    _put(props, "alert.events", {"type": "object", "enabled": False})
    return {
        "dynamic_templates": [
            {"strings_as_keyword": {"match_mapping_type": "string",
                                    "mapping": {"type": "keyword", "ignore_above": IGNORE_ABOVE}}},
        ],
        "properties": props,
    }


def templates(prefix: str) -> dict[str, dict[str, Any]]:
    """{template name: body} for events (daily indices) and alerts."""
    settings = {"index": {"refresh_interval": "1s", "mapping": {"total_fields": {"limit": 2000}}}, "analysis": ANALYSIS}
    return {
        f"{prefix}-events": {"index_patterns": [f"{prefix}-events-*"], "priority": 200,
                             "template": {"settings": settings, "mappings": mappings()},
                             "_meta": {"managed_by": "logwarden"}},
        f"{prefix}-alerts": {"index_patterns": [f"{prefix}-alerts*"], "priority": 200,
                             "template": {"settings": settings, "mappings": mappings()},
                             "_meta": {"managed_by": "logwarden"}},
    }
