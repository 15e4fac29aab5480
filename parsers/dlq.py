"""Dead-letter documents: what could not be parsed, why, and everything needed to replay it.

    {"@timestamp": <when it failed>, "event": {"id", "original": <line>, "kind": "pipeline_error"},
     "error": {"message": <reason>, "type": <parser>}, "raw": <the whole original envelope>}

`raw` keeps the envelope exactly as it arrived (or its undecodable bytes as text), so an
operator can fix a pipeline and produce the `raw` values back to logs.raw unchanged; the
deterministic event.id means the replayed events replace nothing twice in the index.
"""
from __future__ import annotations

from typing import Any

from logwarden.events import event_id, now_iso, raw_event_id

from .core import ParseFailure


def dlq_document(raw: Any, failure: ParseFailure, *, fallback_id: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The DLQ doc for `raw` (a decoded envelope, or the undecodable text of one)."""
    if isinstance(raw, dict):
        eid = raw_event_id(raw)
        original = raw.get("message")
    else:
        eid = event_id("dlq", *fallback_id) if fallback_id else event_id("dlq", raw)
        original = raw
    return {
        "@timestamp": now_iso(),
        "event": {"id": eid, "original": original if isinstance(original, str) else None, "kind": "pipeline_error"},
        "error": {"message": failure.reason, "type": failure.parser},
        "raw": raw,
    }
