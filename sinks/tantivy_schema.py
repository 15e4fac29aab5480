"""The embedded index's tantivy schema and how an ECS document maps onto it.

One tantivy document per event (or alert):

    _source    bytes, stored      the ECS document exactly as received (orjson bytes);
                                  hits are returned from here, never rebuilt from fields
    id         text, raw          event.id: the write key (delete-by-term, then add)
    timestamp  date, indexed+fast @timestamp: sort key, time filter, histogram
    f          json, raw, fast    every keyword/number/bool leaf under its dotted ECS path
                                  (ES `keyword` semantics: exact, case-sensitive); strings
                                  longer than IGNORE_ABOVE are left out as ECS templates do
    t          json, default      full-text fields (fields.TEXT_FIELDS), tokenised and
               tokenizer          lower-cased, with positions for phrases
    all        text, raw          every short string value, for bare words (KQL's `*`)
    has        text, raw          paths of the full-text fields present (`_exists_:message`)
    ip.<path>  ip, indexed+fast   fields.IP_FIELDS, so CIDR is an address range

Inside a json field tantivy encodes a term as `path (segments joined by \\x01) \\x00
type-byte value`; the wildcard compiler relies on that to run a regex on one path.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import tantivy

from logwarden.sinks.query import fields

SOURCE = "_source"
ID = "id"
TS = "timestamp"
KW = "f"
TXT = "t"
ALL = "all"
HAS = "has"
IP_PREFIX = "ip."

IGNORE_ABOVE = 1024      # ECS templates' keyword ignore_above
ALL_MAX_CHARS = 256      # longer values are not useful as bare-word targets
# Never indexed as keywords: whole nested documents inside an alert, DLQ envelopes.
EXCLUDED = frozenset({"alert.events", "raw"})

_TEXT_TOP = frozenset(f.split(".")[0] for f in fields.TEXT_FIELDS)
_IP_TOP = frozenset(f.split(".")[0] for f in fields.IP_FIELDS)


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_bytes_field(SOURCE, stored=True)
    sb.add_text_field(ID, tokenizer_name="raw", index_option="basic")
    sb.add_date_field(TS, indexed=True, fast=True)
    sb.add_json_field(KW, tokenizer_name="raw", fast=True, expand_dots_enabled=True, index_option="basic")
    sb.add_json_field(TXT, tokenizer_name="default", index_option="position", expand_dots_enabled=True)
    sb.add_text_field(ALL, tokenizer_name="raw", index_option="basic")
    sb.add_text_field(HAS, tokenizer_name="raw", index_option="basic")
    for path in sorted(fields.IP_FIELDS):
        sb.add_ip_addr_field(IP_PREFIX + path, indexed=True, fast=True)
    return sb.build()


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class _Split:
    """Accumulates the per-field parts of one document during a single walk."""
    __slots__ = ("text", "all", "ips")

    def __init__(self) -> None:
        self.text: dict[str, Any] = {}
        self.all: list[str] = []
        self.ips: list[tuple[str, str]] = []


def _walk(obj: dict[str, Any], prefix: str, out: _Split) -> dict[str, Any]:
    """Copy of `obj` for the keyword json field, routing text and IP leaves aside."""
    kw: dict[str, Any] = {}
    for key, value in obj.items():
        path = prefix + key
        if path in EXCLUDED:
            continue
        if isinstance(value, dict):
            sub = _walk(value, path + ".", out)
            if sub:
                kw[key] = sub
            continue
        if path in fields.TEXT_FIELDS:
            if value is not None:
                out.text[path] = value
            continue
        if path in fields.IP_FIELDS:
            for ip in (value if isinstance(value, list) else [value]):
                if isinstance(ip, str):
                    out.ips.append((path, ip))
        if isinstance(value, str):
            if len(value) > IGNORE_ABOVE:
                continue
            if len(value) <= ALL_MAX_CHARS:
                out.all.append(value)
        elif isinstance(value, list):
            kept = []
            for v in value:
                if isinstance(v, str):
                    if len(v) > IGNORE_ABOVE:
                        continue
                    if len(v) <= ALL_MAX_CHARS:
                        out.all.append(v)
                kept.append(v)
            value = kept
        kw[key] = value
    return kw


def to_document(doc: dict[str, Any], source: bytes, doc_id: str) -> tantivy.Document:
    """The tantivy document for one ECS document (`source` is its serialised form)."""
    out = _Split()
    body = {k: v for k, v in doc.items() if k != fields.TIMESTAMP}
    kw = _walk(body, "", out)
    d = tantivy.Document()
    d.add_bytes(SOURCE, source)
    d.add_text(ID, doc_id)
    ts = parse_timestamp(doc.get(fields.TIMESTAMP))
    if ts is not None:
        d.add_date(TS, ts)
    if kw:
        d.add_json(KW, kw)
    if out.text:
        d.add_json(TXT, out.text)
        for path in out.text:
            d.add_text(HAS, path)
    for value in out.all:
        d.add_text(ALL, value)
    for path, ip in out.ips:
        try:
            d.add_ip_addr(IP_PREFIX + path, ip)
        except ValueError:
            pass  # not an address: still searchable as a keyword under f
    return d
