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
    has        text, raw          paths of the full-text fields present (`_exists_:message`)
    ip.<path>  ip, indexed        fields.IP_FIELDS, so CIDR is an address range

Inside a json field tantivy encodes a term as `path (segments joined by \\x01) \\x00
type-byte value`; the wildcard compiler relies on that to run a regex on one path.
"""
from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from typing import Any

import orjson
import tantivy

from logwarden.sinks.query import fields

SCHEMA_VERSION = 3      # bump on any change below: old indexes are then refused with a rebuild hint

SOURCE = "_source"
ID = "id"
TS = "timestamp"
KW = "f"
TXT = "t"
HAS = "has"
IP_PREFIX = "ip."

IGNORE_ABOVE = 1024      # ECS templates' keyword ignore_above
# Never indexed as keywords: whole nested documents inside an alert, DLQ envelopes.
EXCLUDED = frozenset({"alert.events", "raw", fields.TIMESTAMP}) | fields.NOT_INDEXED


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_bytes_field(SOURCE, stored=True)
    sb.add_text_field(ID, tokenizer_name="raw", index_option="basic")
    sb.add_date_field(TS, indexed=True, fast=True)
    # fast: tantivy ranges over a json path (and exists) only on fast fields
    sb.add_json_field(KW, tokenizer_name="raw", fast=True, expand_dots_enabled=True, index_option="basic")
    sb.add_json_field(TXT, tokenizer_name="default", index_option="position", expand_dots_enabled=True)
    sb.add_text_field(HAS, tokenizer_name="raw", index_option="basic")
    for path in sorted(fields.IP_FIELDS):
        sb.add_ip_addr_field(IP_PREFIX + path, indexed=True, fast=False)
    return sb.build()


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


# Paths taken out of the keyword field `f`: full text goes to `t`, the rest is not indexed.
# Grouped by their top-level key, so a document only pays for the keys it has.
_REMOVED: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
for _p in sorted(fields.TEXT_FIELDS | EXCLUDED):
    _REMOVED.setdefault(_p.split(".")[0], []).append((tuple(_p.split(".")), _p in fields.TEXT_FIELDS))
_REMOVED_FLAT = frozenset(p for p in fields.TEXT_FIELDS | EXCLUDED if "." in p)   # flat dotted keys
_IP_PATHS: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _p in sorted(fields.IP_FIELDS):
    _IP_PATHS.setdefault(_p.split(".")[0], []).append((_p, tuple(_p.split("."))))
_IP_FLAT = frozenset(fields.IP_FIELDS)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$")
_LONG_VALUE = re.compile(rb'"(?:[^"\\]|\\.){%d,}"' % (IGNORE_ABOVE + 1))


def _take(doc: dict[str, Any], parts: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
    """`doc` without the value at `parts` (parents copied, never mutated) and that value."""
    dotted = ".".join(parts)
    if dotted in doc and len(parts) > 1:          # a flat dotted key, as Filebeat may send
        out = dict(doc)
        return out, out.pop(dotted)
    head = doc.get(parts[0])
    if len(parts) == 1:
        if parts[0] not in doc:
            return doc, None
        out = dict(doc)
        return out, out.pop(parts[0])
    if not isinstance(head, dict):
        return doc, None
    sub, value = _take(head, parts[1:])
    if sub is head:
        return doc, None
    out = dict(doc)
    out[parts[0]] = sub
    return out, value


def _get(doc: dict[str, Any], dotted: str, parts: tuple[str, ...]) -> Any:
    if dotted in doc:
        return doc[dotted]
    cur: Any = doc
    for p in parts:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _prune_long(obj: Any) -> Any:
    """Drop strings longer than IGNORE_ABOVE (ECS keyword ignore_above); only called when one exists."""
    if isinstance(obj, dict):
        return {k: _prune_long(v) for k, v in obj.items() if not (isinstance(v, str) and len(v) > IGNORE_ABOVE)}
    if isinstance(obj, list):
        return [_prune_long(v) for v in obj if not (isinstance(v, str) and len(v) > IGNORE_ABOVE)]
    return obj


def to_json(doc: dict[str, Any], source: bytes, doc_id: str, with_ips: bool = True) -> str:
    """The tantivy document for one ECS document as JSON text, for `IndexWriter.add_json`.

    Built by splicing orjson output instead of walking the document in Python: the
    keyword field is the document minus the full-text and excluded paths (copied only
    along those paths, never mutated). Bytes fields are base64 in tantivy's JSON form;
    dates must be RFC 3339. IP values are passed unchecked: tantivy rejects a document
    with a malformed address, and the writer then retries it with `with_ips=False`.
    """
    kw = doc
    text: dict[str, Any] = {}
    keys = doc.keys()
    for top in keys & _REMOVED.keys():
        for parts, is_text in _REMOVED[top]:
            kw, value = _take(kw, parts)
            if value is not None and is_text:
                text[".".join(parts)] = value
    for dotted in keys & _REMOVED_FLAT:
        kw = dict(kw)
        value = kw.pop(dotted)
        if value is not None and dotted in fields.TEXT_FIELDS:
            text[dotted] = value
    kw_json = orjson.dumps(kw)
    if len(kw_json) > IGNORE_ABOVE and _LONG_VALUE.search(kw_json):
        kw_json = orjson.dumps(_prune_long(kw))
    out = [b'{"_source":"', base64.b64encode(source), b'","id":', orjson.dumps(doc_id), b',"f":', kw_json]
    ts = doc.get(fields.TIMESTAMP)
    if isinstance(ts, str):
        if not _RFC3339.match(ts):
            t = parse_timestamp(ts)
            ts = t.astimezone(timezone.utc).isoformat() if t is not None else None
        if ts is not None:
            out += [b',"timestamp":"', ts.encode(), b'"']
    if text:
        out += [b',"t":', orjson.dumps(text), b',"has":', orjson.dumps(list(text))]
    if with_ips:
        for top in keys & _IP_PATHS.keys():
            for dotted, parts in _IP_PATHS[top]:
                value = _get(doc, dotted, parts)
                if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
                    out += [b',"', (IP_PREFIX + dotted).encode(), b'":', orjson.dumps(value)]
        for dotted in keys & _IP_FLAT:
            value = doc[dotted]
            if isinstance(value, str):
                out += [b',"', (IP_PREFIX + dotted).encode(), b'":', orjson.dumps(value)]
    out.append(b"}")
    return b"".join(out).decode("utf-8")
