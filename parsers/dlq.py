"""The parsers' dead letters: a ParseFailure and the envelope it failed on, as a logs.dlq
document (the one shape every stage writes, logwarden.events.dead_letter).

What is the parsers' own here: `error.type` is the failing parser, `event.original` the
envelope's `message` (the log line), and `event.id` the envelope's identity
(`raw_event_id`), so an operator who fixes a pipeline and produces the `raw` values back to
logs.raw unchanged gets events whose ids replace nothing twice in the index.
"""
from __future__ import annotations

from typing import Any

import orjson

from logwarden.events import dead_letter, event_id, raw_event_id

from .core import ParseFailure


def dlq_document(raw: Any, failure: ParseFailure, *, fallback_id: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The DLQ doc for `raw` (a decoded envelope, or the undecodable text of one)."""
    if isinstance(raw, dict):
        line = raw.get("message")
        return dead_letter(None, failure.reason, failure.parser, eid=raw_event_id(raw), decoded=raw,
                           original=line if isinstance(line, str) else None)
    eid = event_id("dlq", *fallback_id) if fallback_id else event_id("dlq", raw)
    # Not an envelope: undecodable text, or JSON that is not an object (its text again).
    text = raw if isinstance(raw, str) else "" if raw is None else orjson.dumps(raw).decode()
    return dead_letter(text, failure.reason, failure.parser, eid=eid)
