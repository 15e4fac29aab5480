"""Which bulk-indexing failures are worth another attempt, and why; no I/O here.

The Elasticsearch and OpenSearch sinks (`elasticsearch.py`, `opensearch.py`) send `_bulk`
requests and sleep between attempts; this module only judges what came back, as Vector's
`RetryLogic` does for its sinks (`is_retriable_error` for a transport error,
`should_retry_response` for an answer), so the table below is tested on its own
(tests/unit/test_sinks_bulk_retry.py) and both engines judge alike:

    what came back                                   verdict
    an item with a 2xx status                        WRITTEN
    an item with 429, 500, 502, 503 or 504           RETRY that item alone
    an item with no status                           judged as a 500: RETRY
    an item with any other status (400, 409, 501..)  REJECT: dead-letter it with the reason
    a request that reached no cluster (no status)    RETRY every item of it
    a request answered 429 / 500 / 502 / 503 / 504   RETRY every item of it
    a request answered any other status (401, 403,   FAIL: raise, it is not the documents'
      a 400 on the request itself)                     fault, so none is dead-lettered
    an answer whose items do not pair with the       FAIL
      request's actions

A REJECT or RETRY carries the reason that is logged, and that a dead letter's
`error.message` holds (e.g. `elasticsearch 400: document_parsing_exception: failed to
parse field [source.ip] of type [ip]`).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

RETRYABLE = frozenset({429, 500, 502, 503, 504})


class Action(Enum):
    WRITTEN = "written"
    RETRY = "retry"     # the same action again, after a backoff
    REJECT = "reject"   # refused for good: the document goes to the dead-letter topic
    FAIL = "fail"       # the request as a whole is wrong: raise, dead-letter nothing


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""

    @property
    def retry(self) -> bool:
        return self.action is Action.RETRY


WRITTEN = Verdict(Action.WRITTEN)


def item_reason(item: Mapping[str, Any], engine: str = "elasticsearch") -> str:
    """`<engine> <status>: <error type>: <reason> (caused by <type>: <reason>)` of a bulk item."""
    err = item.get("error")
    if isinstance(err, dict):
        text = f"{err.get('type', 'error')}: {err.get('reason', '')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type')}: {cause['reason']})"
        return f"{engine} {item.get('status')}: {text}"
    return f"{engine} {item.get('status')}: {err}"


def judge_item(item: Mapping[str, Any], engine: str) -> Verdict:
    """One bulk item's result (the value under its `index` key)."""
    code = int(item.get("status") or 500)
    if code < 300:
        return WRITTEN
    return Verdict(Action.RETRY if code in RETRYABLE else Action.REJECT, item_reason(item, engine))


def judge_request_error(status: int | None, error: object) -> Verdict:
    """A whole request that failed: `status` is its HTTP status, None when no cluster answered
    (connection refused, timeout); `error` is what the client raised."""
    if status is None:
        return Verdict(Action.RETRY, f"bulk request: {error}")
    if status in RETRYABLE:
        return Verdict(Action.RETRY, f"bulk request: HTTP {status}")
    return Verdict(Action.FAIL, f"bulk request: HTTP {status}: {error}")


def judge_reply(reply: Mapping[str, Any], actions: int, engine: str) -> list[Verdict]:
    """One verdict per action of a `_bulk` request the cluster answered with `reply`."""
    items = reply.get("items", [])
    if len(items) != actions:
        return [Verdict(Action.FAIL, f"_bulk answered {len(items)} items for {actions} actions")] * actions
    if not reply.get("errors"):
        return [WRITTEN] * actions
    return [judge_item(next(iter(item.values())), engine) for item in items]
