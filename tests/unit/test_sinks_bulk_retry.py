"""The bulk retry table (logwarden.sinks.bulk_retry): what is retried, rejected or raised, and
the reason given, with no cluster involved."""
from __future__ import annotations

import pytest

from logwarden.sinks.bulk_retry import Action, Verdict, judge_item, judge_reply, judge_request_error

MAPPING_ERROR = {"type": "document_parsing_exception", "reason": "failed to parse field [source.ip] of type [ip]",
                 "caused_by": {"type": "illegal_argument_exception", "reason": "'x' is not an IP string literal."}}


@pytest.mark.parametrize("status, action", [
    (200, Action.WRITTEN), (201, Action.WRITTEN),
    (429, Action.RETRY), (500, Action.RETRY), (502, Action.RETRY), (503, Action.RETRY), (504, Action.RETRY),
    (None, Action.RETRY),                                   # no status: judged as a 500
    (400, Action.REJECT), (404, Action.REJECT), (409, Action.REJECT), (413, Action.REJECT),
    (501, Action.REJECT), (505, Action.REJECT),
])
def test_an_item_is_judged_by_its_status(status, action):
    item = {"_id": "x", "error": MAPPING_ERROR} if status is None or status >= 300 else {"_id": "x"}
    if status is not None:
        item["status"] = status
    assert judge_item(item, "elasticsearch").action is action


def test_a_failed_items_reason_names_the_engine_status_error_and_cause():
    v = judge_item({"status": 400, "error": MAPPING_ERROR}, "opensearch")
    assert v == Verdict(Action.REJECT, "opensearch 400: document_parsing_exception: failed to parse field "
                                       "[source.ip] of type [ip] (caused by illegal_argument_exception: "
                                       "'x' is not an IP string literal.)")
    v = judge_item({"status": 429, "error": "queue full"}, "elasticsearch")
    assert v.retry and v.reason == "elasticsearch 429: queue full"


@pytest.mark.parametrize("status, verdict", [
    (None, Verdict(Action.RETRY, "bulk request: connection refused")),
    (429, Verdict(Action.RETRY, "bulk request: HTTP 429")),
    (503, Verdict(Action.RETRY, "bulk request: HTTP 503")),
    (401, Verdict(Action.FAIL, "bulk request: HTTP 401: connection refused")),
    (403, Verdict(Action.FAIL, "bulk request: HTTP 403: connection refused")),
    (400, Verdict(Action.FAIL, "bulk request: HTTP 400: connection refused")),
])
def test_a_whole_request_error(status, verdict):
    assert judge_request_error(status, "connection refused") == verdict


def test_a_reply_gives_one_verdict_per_action():
    ok = {"index": {"_id": "a", "status": 201}}
    assert judge_reply({"errors": False, "items": [ok, ok]}, 2, "elasticsearch") == [Verdict(Action.WRITTEN)] * 2
    mixed = [ok, {"index": {"status": 400, "error": MAPPING_ERROR}}, {"index": {"status": 503, "error": "busy"}}]
    assert [v.action for v in judge_reply({"errors": True, "items": mixed}, 3, "elasticsearch")] == \
        [Action.WRITTEN, Action.REJECT, Action.RETRY]


def test_a_reply_that_does_not_pair_with_the_request_fails_it_whole():
    verdicts = judge_reply({"errors": False, "items": [{"index": {"status": 201}}]}, 2, "elasticsearch")
    assert verdicts == [Verdict(Action.FAIL, "_bulk answered 1 items for 2 actions")] * 2
