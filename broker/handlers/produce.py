"""Produce and InitProducerId.

The RECORDS field of each partition arrives as a memoryview of the request frame and is
handed to PartitionLog.append untouched (storage validates CRCs and assigns offsets); this
module only reads the 61-byte batch headers for idempotent-producer sequence checks. Once
append() returns the bytes are in the log file (the OS page cache), so an acks=1/all
answer survives a SIGKILL of the broker; the fsync policy (flush.messages/flush.ms)
decides survival of a power loss.
"""
from __future__ import annotations

import logging
from typing import Any

from logwarden.broker import metrics
from logwarden.broker.producers import DUPLICATE, FENCED, OK, OUT_OF_ORDER, tail_headers
from logwarden.broker.protocol import errors as E
from logwarden.broker.protocol.batches import HEADER_BYTES, iter_batches
from logwarden.broker.storage import is_internal_topic
from logwarden.broker.storage.errors import StorageError

log = logging.getLogger("logwarden.broker.produce")


def _partition(ctx: Any, topic: str, index: int, records: Any) -> dict[str, Any]:
    out = {"index": index, "error_code": E.NONE, "base_offset": -1, "log_append_time_ms": -1,
           "log_start_offset": -1, "record_errors": [], "error_message": None}
    try:
        plog = ctx.logs.get(topic, index)
    except StorageError as exc:
        out["error_code"] = exc.kafka_error_code
        return out
    if records is None or len(records) < HEADER_BYTES:
        out["error_code"] = E.CORRUPT_MESSAGE
        metrics.produce_error(E.CORRUPT_MESSAGE)
        return out
    tp = (topic, index)
    headers = list(iter_batches(records))
    idempotent = any(h.producer_id >= 0 and h.base_sequence >= 0 for h in headers)
    if idempotent:
        producers = ctx.producers
        if not producers.loaded(tp):
            producers.rebuild(tp, tail_headers(plog))
        for h in headers:
            verdict, dup_offset = producers.check(tp, h)
            if verdict == OK:
                continue
            if verdict == DUPLICATE and len(headers) == 1:
                out["base_offset"] = dup_offset
                out["log_start_offset"] = plog.log_start_offset
                return out
            out["error_code"] = {OUT_OF_ORDER: E.OUT_OF_ORDER_SEQUENCE_NUMBER, FENCED: E.INVALID_PRODUCER_EPOCH,
                                 DUPLICATE: E.DUPLICATE_SEQUENCE_NUMBER}[verdict]
            metrics.produce_error(out["error_code"])
            return out
    try:
        base, _last, append_time = plog.append(records)
    except StorageError as exc:
        log.info("produce to %s-%d refused: %s", topic, index, exc, extra={"topic": topic, "partition": index, "reason": str(exc)})
        out["error_code"] = exc.kafka_error_code
        out["error_message"] = str(exc)
        metrics.produce_error(exc.kafka_error_code)
        return out
    if idempotent:
        off = base
        for h in headers:
            ctx.producers.record(tp, h, off)
            off += h.last_offset_delta + 1
    stats = metrics.STATS
    stats.produced_records += sum(h.records_count for h in headers)
    stats.produced_bytes += len(records)
    out["base_offset"] = base
    out["log_append_time_ms"] = append_time
    out["log_start_offset"] = plog.log_start_offset
    ctx.notify(topic, index)
    return out


def handle_produce(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any] | None:
    acks = req["acks"]
    responses = []
    for t in req["topics"]:
        name = t["name"]
        internal = is_internal_topic(name)  # __consumer_offsets is written by the coordinator only
        exists = not internal and ctx.topic_exists(name, allow_create=True)
        parts = []
        for p in t["partitions"]:
            if internal:
                parts.append({"index": p["index"], "error_code": E.INVALID_TOPIC_EXCEPTION, "base_offset": -1,
                              "error_message": f"{name} is an internal topic"})
            elif not exists:
                parts.append({"index": p["index"], "error_code": E.UNKNOWN_TOPIC_OR_PARTITION, "base_offset": -1})
            elif acks not in (0, 1, -1):
                parts.append({"index": p["index"], "error_code": E.INVALID_REQUIRED_ACKS, "base_offset": -1})
            else:
                parts.append(_partition(ctx, name, p["index"], p["records"]))
        responses.append({"name": name, "partitions": parts})
    if acks == 0:
        return None
    return {"responses": responses, "throttle_time_ms": 0}


def handle_init_producer_id(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    # Transactions are not supported: a transactional id gets a plain idempotent id too,
    # and the transactional APIs are not advertised, so clients do not try to use them.
    return {"throttle_time_ms": 0, "error_code": E.NONE, "producer_id": ctx.next_producer_id(), "producer_epoch": 0}
