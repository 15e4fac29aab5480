"""CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs (topic resources and the
broker resource), AlterConfigs and IncrementalAlterConfigs (topic resources)."""
from __future__ import annotations

import logging
from typing import Any

from logwarden.broker.context import NODE_ID
from logwarden.broker.protocol import errors as E
from logwarden.broker.storage import is_internal_topic
from logwarden.broker.storage.errors import StorageError

log = logging.getLogger("logwarden.broker.admin")

TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4
SOURCE_TOPIC, SOURCE_DEFAULT = 1, 5  # DescribeConfigs config_source values


def handle_create_topics(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    out = []
    for t in req["topics"]:
        name, n = t["name"], t["num_partitions"]
        entry = {"name": name, "error_code": E.NONE, "error_message": None}
        out.append(entry)
        if t["assignments"]:
            n = len(t["assignments"])
        if n == -1:
            n = ctx.default_partitions
        if t["replication_factor"] not in (-1, 1):
            entry.update(error_code=E.INVALID_REPLICATION_FACTOR,
                         error_message="this broker has one node: replication factor must be 1")
            continue
        configs = {c["name"]: c["value"] for c in t["configs"] if c["value"] is not None}
        validate_only = bool(req.get("validate_only"))
        try:
            ctx.logs.create_topic(name, n, configs or None, validate_only=validate_only)
            if not validate_only:
                log.info("created topic %s with %d partitions", name, n, extra={"topic": name, "partitions": n})
        except StorageError as exc:
            entry.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "topics": out}


def handle_delete_topics(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    out = []
    for name in req["topic_names"]:
        code = E.NONE
        if is_internal_topic(name) and name in ctx.logs.topics():
            out.append({"name": name, "error_code": E.INVALID_TOPIC_EXCEPTION})  # internal topics stay
            continue
        try:
            ctx.logs.delete_topic(name)
            ctx.producers.forget_topic(name)
            ctx.coordinator.offsets.delete_topic(name)
            log.info("deleted topic %s", name, extra={"topic": name})
            for key in [k for k in ctx.waiters if k[0] == name]:
                ctx.notify(*key)
        except StorageError as exc:
            code = exc.kafka_error_code
        out.append({"name": name, "error_code": code})
    return {"throttle_time_ms": 0, "responses": out}


def _broker_configs(ctx: Any) -> dict[str, str]:
    return {"auto.create.topics.enable": str(ctx.auto_create_topics).lower(),
            "num.partitions": str(ctx.default_partitions),
            "socket.request.max.bytes": str(ctx.max_frame_bytes),
            "broker.id": str(NODE_ID)}


def handle_describe_configs(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    results = []
    for r in req["resources"]:
        res = {"error_code": E.NONE, "error_message": None, "resource_type": r["resource_type"],
               "resource_name": r["resource_name"], "configs": []}
        results.append(res)
        try:
            if r["resource_type"] == TOPIC_RESOURCE:
                values = ctx.logs.describe_config(r["resource_name"])
                overrides = set(ctx.logs.config_overrides(r["resource_name"]))
            elif r["resource_type"] == BROKER_RESOURCE:
                values, overrides = _broker_configs(ctx), set()
            else:
                res.update(error_code=E.INVALID_REQUEST, error_message="only topic and broker resources")
                continue
        except StorageError as exc:
            res.update(error_code=exc.kafka_error_code, error_message=str(exc))
            continue
        keys = r["configuration_keys"]
        for name in sorted(values):
            if keys is not None and name not in keys:
                continue
            source = SOURCE_TOPIC if name in overrides else SOURCE_DEFAULT
            res["configs"].append({"name": name, "value": values[name], "read_only": False,
                                   "is_default": source == SOURCE_DEFAULT, "config_source": source,
                                   "is_sensitive": False, "synonyms": [], "config_type": 0, "documentation": None})
    return {"throttle_time_ms": 0, "results": results}


def handle_create_partitions(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    results = []
    for t in req["topics"]:
        entry = {"name": t["name"], "error_code": E.NONE, "error_message": None}
        results.append(entry)
        try:
            ctx.logs.create_partitions(t["name"], t["count"], validate_only=req["validate_only"])
            if not req["validate_only"]:
                log.info("topic %s now has %d partitions", t["name"], t["count"], extra={"topic": t["name"]})
        except StorageError as exc:
            entry.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "results": results}


# IncrementalAlterConfigs operations
SET, DELETE = 0, 1


def _alter(ctx: Any, req: dict[str, Any], incremental: bool) -> dict[str, Any]:
    out = []
    for r in req["resources"]:
        res = {"error_code": E.NONE, "error_message": None, "resource_type": r["resource_type"],
               "resource_name": r["resource_name"]}
        out.append(res)
        if r["resource_type"] != TOPIC_RESOURCE:
            res.update(error_code=E.INVALID_REQUEST, error_message="only topic configs can be altered")
            continue
        changes: dict[str, str | None] = {}
        for c in r["configs"]:
            op = c.get("config_operation", SET)
            if op == SET:
                changes[c["name"]] = c["value"]
            elif op == DELETE:
                changes[c["name"]] = None
            else:
                res.update(error_code=E.INVALID_REQUEST, error_message="APPEND/SUBTRACT apply to list configs only")
                break
        if res["error_code"]:
            continue
        try:
            if is_internal_topic(r["resource_name"]):
                raise _Internal()
            if req["validate_only"]:
                from logwarden.broker.storage.config import validate_overrides
                validate_overrides({k: v for k, v in changes.items() if v is not None})
                ctx.logs.config_overrides(r["resource_name"])  # raises for an unknown topic
            else:
                ctx.logs.alter_topic_config(r["resource_name"], changes, incremental=incremental)
                log.info("altered config of topic %s: %s", r["resource_name"], changes)
        except _Internal:
            res.update(error_code=E.INVALID_REQUEST, error_message="internal topics keep their config")
        except StorageError as exc:
            res.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "responses": out}


class _Internal(Exception):
    pass


def handle_alter_configs(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    # AlterConfigs replaces all of a topic's overrides with the ones given (Kafka semantics).
    return _alter(ctx, req, incremental=False)


def handle_incremental_alter_configs(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return _alter(ctx, req, incremental=True)
