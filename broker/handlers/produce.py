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
from logwarden.broker.protocol.errors import CloseConnection
from logwarden.broker.protocol.batches import BatchHeader, iter_batches
from logwarden.broker.storage import is_internal_topic
from logwarden.broker.storage.batch import validate_produce
from logwarden.broker.storage.errors import StorageError

log = logging.getLogger("logwarden.broker.produce")

ZSTD = 4  # compression codec id in a batch's attributes


def _client_batch_error(headers: list[BatchHeader], version: int) -> tuple[int, str] | None:
    """What Kafka refuses from a client before anything is stored (ProduceRequest.
    validateRecords, LogValidator.validateBatch): a produce carries exactly one v2 batch per
    partition (an empty or truncated one is none), with base offset 0 (the broker assigns offsets), a record count that matches
    its offset range, no control records (only the broker writes those) and, from an
    idempotent producer, a sequence number. zstd needs Produce v7 (KIP-110)."""
    if len(headers) > 1:
        return E.INVALID_RECORD, "a produce request may carry exactly one record batch per partition"
    if not headers:
        return E.INVALID_RECORD, "a produce request must carry one whole record batch per partition"
    h = headers[0]
    if h.magic != 2:
        return E.INVALID_RECORD, f"record batch magic {h.magic}: only v2 batches are accepted"
    if h.compression == ZSTD and version < 7:
        return E.UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later"
    if h.base_offset != 0:
        return E.INVALID_RECORD, f"the batch's base offset is {h.base_offset}, must be 0"
    if h.records_count <= 0 or h.records_count != h.last_offset_delta + 1:
        return E.INVALID_RECORD, f"{h.records_count} records in an offset range of {h.last_offset_delta + 1}"
    if h.is_control:
        return E.INVALID_RECORD, "clients may not write control records"
    if h.producer_id >= 0 and h.base_sequence < 0:
        return E.INVALID_RECORD, f"producer id {h.producer_id} with sequence number {h.base_sequence}"
    return None


def _partition(ctx: Any, topic: str, index: int, records: Any, version: int) -> dict[str, Any]:
    out = {"index": index, "error_code": E.NONE, "base_offset": -1, "log_append_time_ms": -1,
           "log_start_offset": -1, "record_errors": [], "error_message": None}
    try:
        plog = ctx.logs.get(topic, index)
    except StorageError as exc:
        out["error_code"] = exc.kafka_error_code
        return out
    tp = (topic, index)
    headers = list(iter_batches(records)) if records is not None else []
    refused = _client_batch_error(headers, version)
    if refused is not None:
        out["error_code"], out["error_message"] = refused
        metrics.produce_error(out["error_code"])
        return out
    idempotent = bool(headers) and headers[0].producer_id >= 0
    try:
        if idempotent:
            producers = ctx.producers
            if not producers.loaded(tp):
                producers.rebuild(tp, tail_headers(plog))
            verdict = producers.check(tp, headers[0])
            if verdict.kind == DUPLICATE:
                # a retry of a batch already written: its original offsets - once its bytes
                # pass the same checks a write would (Kafka validates before deduplicating)
                validate_produce(records, plog.config.max_message_bytes)
                out["base_offset"], out["log_append_time_ms"] = verdict.base_offset, verdict.log_append_time
                out["log_start_offset"] = plog.log_start_offset
                return out
            if verdict.kind != OK:
                out["error_code"] = {OUT_OF_ORDER: E.OUT_OF_ORDER_SEQUENCE_NUMBER,
                                     FENCED: E.INVALID_PRODUCER_EPOCH}[verdict.kind]
                metrics.produce_error(out["error_code"])
                return out
        base, _last, append_time = plog.append(records)
    except StorageError as exc:
        log.info("produce to %s-%d refused: %s", topic, index, exc, extra={"topic": topic, "partition": index, "reason": str(exc)})
        out["error_code"] = exc.kafka_error_code
        out["error_message"] = str(exc)
        metrics.produce_error(exc.kafka_error_code)
        return out
    if idempotent:
        ctx.producers.record(tp, headers[0], base, append_time)
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
        authorized = ctx.allowed(session, "Write", "topic", name)
        exists = authorized and not internal and ctx.topic_exists(name, allow_create=ctx.may_create(session, name))
        parts = []
        for p in t["partitions"]:
            if not authorized:
                parts.append({"index": p["index"], "error_code": E.TOPIC_AUTHORIZATION_FAILED, "base_offset": -1})
            elif internal:
                parts.append({"index": p["index"], "error_code": E.INVALID_TOPIC_EXCEPTION, "base_offset": -1,
                              "error_message": f"{name} is an internal topic"})
            elif not exists:
                parts.append({"index": p["index"], "error_code": E.UNKNOWN_TOPIC_OR_PARTITION, "base_offset": -1})
            elif acks not in (0, 1, -1):
                parts.append({"index": p["index"], "error_code": E.INVALID_REQUIRED_ACKS, "base_offset": -1})
            else:
                parts.append(_partition(ctx, name, p["index"], p["records"], hdr.api_version))
        responses.append({"name": name, "partitions": parts})
    if acks == 0:
        failed = next(((r["name"], p) for r in responses for p in r["partitions"] if p["error_code"]), None)
        if failed is not None:
            # As Kafka: an acks=0 producer hears of nothing else; the closed connection makes
            # it reconnect and refresh its metadata instead of dropping records for good.
            name, p = failed
            raise CloseConnection(f"acks=0 produce to {name}-{p['index']} failed with error {p['error_code']}"
                                  f"{': ' + p['error_message'] if p.get('error_message') else ''}", "acks0_failed")
        return None
    return {"responses": responses, "throttle_time_ms": 0}


def handle_init_producer_id(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    # Transactions are not supported (the transactional APIs are not advertised): a
    # transactional id is refused as FindCoordinator refuses it (groups.NO_TRANSACTIONS);
    # an idempotent producer (no transactional id) gets its producer id.
    if req.get("transactional_id") is not None:
        return {"throttle_time_ms": 0, "error_code": E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "producer_id": -1, "producer_epoch": -1}
    if ctx.authorizer.enabled:
        from logwarden.broker.security.acl import principal_of

        who = principal_of(session.principal)
        if not (ctx.allowed(session, "IdempotentWrite", "cluster") or ctx.authorizer.may_write_some_topic(who)):
            return {"throttle_time_ms": 0, "error_code": E.CLUSTER_AUTHORIZATION_FAILED, "producer_id": -1, "producer_epoch": -1}
    return {"throttle_time_ms": 0, "error_code": E.NONE, "producer_id": ctx.next_producer_id(), "producer_epoch": 0}
