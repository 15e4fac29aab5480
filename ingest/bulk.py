"""Sans-IO Elasticsearch `_bulk` body parsing and response building.

The body is NDJSON pairs: an action line (`{"index": {"_index": "x", "_id": "1"}}`,
`create`, `update`, `delete`) and, except for `delete`, a source line. Logwarden accepts
`index` and `create` (a log shipper's only actions); `update` and `delete` get a per-item
400 as Elasticsearch answers an unsupported operation, and the rest of the batch still
goes through. A source line that is not a JSON object is a per-item 400
`mapper_parsing_exception`. An action line that cannot be read fails the whole request
with 400 `illegal_argument_exception`, like Elasticsearch, because the pairing after it
is unknown.

Responses follow Elasticsearch 8: `{"took", "errors", "items": [{"<op>": {"_index",
"_id", "_version", "result", "_shards", "_seq_no", "_primary_term", "status"}}]}` or, for
a failed item, `{"<op>": {"_index", "_id", "status", "error": {"type", "reason"}}}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ACTIONS = ("index", "create", "update", "delete")


class BulkRequestError(Exception):
    """The whole request is unreadable: answer 400 with this reason."""

    def __init__(self, reason: str, error_type: str = "illegal_argument_exception"):
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


@dataclass(slots=True)
class BulkItem:
    op: str
    index: str
    id: str | None
    doc: dict[str, Any] | None  # None for delete or a failed item
    source: bytes = b""  # the source line as sent
    error: tuple[int, str, str] | None = None  # (status, type, reason)


def parse(body: bytes, default_index: str | None) -> list[BulkItem]:
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines and lines[-1].strip():
        raise BulkRequestError("The bulk request must be terminated by a newline [\\n]")
    items: list[BulkItem] = []
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i].strip()
        i += 1
        if not raw:
            continue
        try:
            action = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BulkRequestError(f"Malformed action/metadata line [{i}], expected START_OBJECT but found a value that is not JSON", "x_content_parse_exception") from None
        if not isinstance(action, dict) or len(action) != 1:
            raise BulkRequestError(f"Malformed action/metadata line [{i}], expected an object with exactly one action")
        op, meta = next(iter(action.items()))
        if op not in ACTIONS:
            raise BulkRequestError(f"Malformed action/metadata line [{i}], expected one of [create, delete, index, update] but found [{op}]")
        if not isinstance(meta, dict):
            raise BulkRequestError(f"Malformed action/metadata line [{i}], expected START_OBJECT after [{op}]")
        index = meta.get("_index") or default_index
        doc_id = meta.get("_id")
        doc_id = None if doc_id is None else str(doc_id)
        if not index:
            raise BulkRequestError(f"Validation Failed: 1: index is missing for action line [{i}];", "action_request_validation_exception")
        index = str(index)
        if op == "delete":
            items.append(BulkItem(op, index, doc_id, None, error=(400, "illegal_argument_exception", "Logwarden ingest is append-only: [delete] is not supported")))
            continue
        if i >= n:
            raise BulkRequestError(f"Validation Failed: 1: the source line for action line [{i}] is missing;", "action_request_validation_exception")
        source = lines[i]
        i += 1
        if op == "update":
            items.append(BulkItem(op, index, doc_id, None, source, (400, "illegal_argument_exception", "Logwarden ingest is append-only: [update] is not supported")))
            continue
        try:
            doc = orjson.loads(source)
        except orjson.JSONDecodeError as exc:
            items.append(BulkItem(op, index, doc_id, None, source, (400, "mapper_parsing_exception", f"failed to parse: {exc}")))
            continue
        if not isinstance(doc, dict):
            items.append(BulkItem(op, index, doc_id, None, source, (400, "mapper_parsing_exception", "failed to parse, document is empty or not an object")))
            continue
        items.append(BulkItem(op, index, doc_id, doc, source))
    if not items:
        raise BulkRequestError("Validation Failed: 1: no requests added;", "action_request_validation_exception")
    return items


def item_result(item: BulkItem, seq_no: int) -> dict[str, Any]:
    if item.error is not None:
        status, etype, reason = item.error
        body: dict[str, Any] = {"_index": item.index, "_id": item.id, "status": status, "error": {"type": etype, "reason": reason}}
    else:
        body = {"_index": item.index, "_id": item.id, "_version": 1, "result": "created",
                "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": seq_no, "_primary_term": 1, "status": 201}
    return {item.op: body}


def response(items: list[BulkItem], took_ms: int) -> dict[str, Any]:
    return {"took": took_ms, "errors": any(it.error is not None for it in items),
            "items": [item_result(it, k) for k, it in enumerate(items)]}


def error_body(status: int, etype: str, reason: str) -> dict[str, Any]:
    """Elasticsearch's error document shape, used for every 4xx the HTTP receiver sends."""
    cause = {"type": etype, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}
