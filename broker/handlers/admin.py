"""CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs (topic resources and the
broker resource), AlterConfigs and IncrementalAlterConfigs (topic resources)."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from logwarden.broker.context import NODE_ID
from logwarden.broker.protocol import errors as E
from logwarden.broker.storage import LogConfig, is_internal_topic, validate_topic_name
from logwarden.broker.storage.config import BROKER_SYNONYMS, describe
from logwarden.broker.storage.errors import StorageError

log = logging.getLogger("logwarden.broker.admin")

TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4
# DescribeConfigs config_source values
SOURCE_TOPIC, SOURCE_STATIC_BROKER, SOURCE_DEFAULT = 1, 4, 5


def _duplicates(names: list[str]) -> set[str]:
    """Names given more than once: Kafka refuses every occurrence ("Duplicate topic name.")."""
    return {n for n, k in Counter(names).items() if k > 1}


def _topic_request_error(ctx: Any, t: dict[str, Any]) -> tuple[int, str] | None:
    """Kafka's order of checks before a topic is created (ReplicationControlManager): the
    name, whether it exists, then how the request describes it. "Create if it does not
    exist" code relies on hearing TOPIC_ALREADY_EXISTS even when it asks for, say, three
    replicas."""
    try:
        validate_topic_name(t["name"])
    except StorageError as exc:
        return exc.kafka_error_code, str(exc)
    if ctx.logs.has_topic(t["name"]):
        return E.TOPIC_ALREADY_EXISTS, f"topic {t['name']!r} already exists"
    if t["assignments"]:
        if t["num_partitions"] != -1 or t["replication_factor"] != -1:
            return E.INVALID_REQUEST, "both numPartitions or replicationFactor and replicasAssignments were set"
        if sorted(a["partition_index"] for a in t["assignments"]) != list(range(len(t["assignments"]))):
            return E.INVALID_REPLICA_ASSIGNMENT, "partitions must be a consecutive 0-based sequence"
        if any(a["broker_ids"] != [NODE_ID] for a in t["assignments"]):
            return E.INVALID_REPLICA_ASSIGNMENT, f"this broker has one node, id {NODE_ID}: every replica list must be [{NODE_ID}]"
    elif t["replication_factor"] not in (-1, 1):
        return E.INVALID_REPLICATION_FACTOR, "this broker has one node: replication factor must be 1"
    nulls = [c["name"] for c in t["configs"] if c["value"] is None]
    if nulls:
        return E.INVALID_CONFIG, f"null value not supported for topic configs: {', '.join(nulls)}"
    return None


def handle_create_topics(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    out = []
    twice = _duplicates([t["name"] for t in req["topics"]])
    for t in req["topics"]:
        name, n = t["name"], t["num_partitions"]
        entry = {"name": name, "error_code": E.NONE, "error_message": None}
        out.append(entry)
        refused = (E.INVALID_REQUEST, "duplicate topic name") if name in twice else \
            (E.TOPIC_AUTHORIZATION_FAILED, "not authorized to create this topic") if not ctx.may_create(session, name) else \
            _topic_request_error(ctx, t)
        if refused is not None:
            entry.update(error_code=refused[0], error_message=refused[1])
            continue
        if t["assignments"]:
            n = len(t["assignments"])
        if n == -1:
            n = ctx.default_partitions
        configs = {c["name"]: c["value"] for c in t["configs"]}
        validate_only = bool(req.get("validate_only"))
        try:
            ctx.logs.create_topic(name, n, configs or None, validate_only=validate_only)
            if not validate_only:
                log.debug("created topic %s with %d partitions", name, n, extra={"topic": name, "partitions": n})
        except StorageError as exc:
            entry.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "topics": out}


def handle_delete_topics(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    out = []
    twice = _duplicates(req["topic_names"])
    for name in req["topic_names"]:
        code = E.NONE
        if name in twice:
            out.append({"name": name, "error_code": E.INVALID_REQUEST})  # Kafka: "Duplicate topic name."
            continue
        if not ctx.allowed(session, "Delete", "topic", name):
            out.append({"name": name, "error_code": E.TOPIC_AUTHORIZATION_FAILED})
            continue
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
    """The broker resource: every setting is static (read-only to AlterConfigs, as in Kafka
    where none of these is dynamic), plus the log.* defaults topics inherit."""
    defaults = describe(ctx.logs.default_config)
    out = {BROKER_SYNONYMS[k]: v for k, v in defaults.items() if k in BROKER_SYNONYMS}
    out.update({"auto.create.topics.enable": str(ctx.auto_create_topics).lower(),
                "num.partitions": str(ctx.default_partitions),
                "socket.request.max.bytes": str(ctx.max_frame_bytes),
                "broker.id": str(NODE_ID)})
    return out


def _config_entry(name: str, value: str, source: int, read_only: bool, synonyms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "value": value, "read_only": read_only, "is_default": source == SOURCE_DEFAULT,
            "config_source": source, "is_sensitive": False, "synonyms": synonyms, "config_type": 0,
            "documentation": None}


def _describe_topic(ctx: Any, name: str, keys: set[str] | None, with_synonyms: bool) -> list[dict[str, Any]]:
    """Every topic config, as Kafka lists them: the value, where it comes from (a topic
    override, the broker's config file, or the built-in default) and, when asked, the
    chain of synonyms - the override first, then the broker setting behind it."""
    validate_topic_name(name)  # INVALID_TOPIC_EXCEPTION before UNKNOWN_TOPIC_OR_PARTITION, as Kafka
    values, overrides = ctx.logs.describe_config(name), ctx.logs.config_overrides(name)
    defaults, builtin = describe(ctx.logs.default_config), describe(LogConfig())
    out = []
    for key in sorted(values):
        if keys and key not in keys:
            continue
        broker_source = SOURCE_DEFAULT if defaults[key] == builtin[key] else SOURCE_STATIC_BROKER
        chain = []
        if key in overrides:
            chain.append({"name": key, "value": values[key], "source": SOURCE_TOPIC})
        if key in BROKER_SYNONYMS:
            chain.append({"name": BROKER_SYNONYMS[key], "value": defaults[key], "source": broker_source})
        source = SOURCE_TOPIC if key in overrides else broker_source
        out.append(_config_entry(key, values[key], source, False, chain if with_synonyms else []))
    return out


def handle_describe_configs(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    results = []
    for r in req["resources"]:
        res = {"error_code": E.NONE, "error_message": None, "resource_type": r["resource_type"],
               "resource_name": r["resource_name"], "configs": []}
        results.append(res)
        keys = set(r["configuration_keys"] or ())  # null or empty: every config, as Kafka
        if not _may_configs(ctx, session, "DescribeConfigs", r):
            res.update(error_code=_denied_code(r), error_message="not authorized to describe these configs")
            continue
        try:
            if r["resource_type"] == TOPIC_RESOURCE:
                res["configs"] = _describe_topic(ctx, r["resource_name"], keys, bool(req.get("include_synonyms")))
            elif r["resource_type"] == BROKER_RESOURCE:
                # Kafka: "" is the cluster-wide dynamic defaults (there are none here), a
                # broker id that of this broker; any other name is not a broker here
                if r["resource_name"] == "":
                    continue
                if r["resource_name"] != str(NODE_ID):
                    res.update(error_code=E.INVALID_REQUEST, error_message=f"this broker's id is {NODE_ID}")
                    continue
                res["configs"] = [_config_entry(k, v, SOURCE_STATIC_BROKER, True, [])
                                  for k, v in sorted(_broker_configs(ctx).items()) if not keys or k in keys]
            else:
                res.update(error_code=E.INVALID_REQUEST, error_message="only topic and broker resources")
        except StorageError as exc:
            res.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "results": results}


def handle_create_partitions(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    results = []
    for t in req["topics"]:
        entry = {"name": t["name"], "error_code": E.NONE, "error_message": None}
        results.append(entry)
        if not ctx.allowed(session, "Alter", "topic", t["name"]):
            entry.update(error_code=E.TOPIC_AUTHORIZATION_FAILED, error_message="not authorized to alter this topic")
            continue
        try:
            ctx.logs.create_partitions(t["name"], t["count"], validate_only=req["validate_only"])
            if not req["validate_only"]:
                log.info("topic %s now has %d partitions", t["name"], t["count"], extra={"topic": t["name"]})
        except StorageError as exc:
            entry.update(error_code=exc.kafka_error_code, error_message=str(exc))
    return {"throttle_time_ms": 0, "results": results}


# IncrementalAlterConfigs operations
SET, DELETE = 0, 1


def _may_configs(ctx: Any, session: Any, operation: str, r: dict[str, Any]) -> bool:
    """DescribeConfigs/AlterConfigs on the topic, or on the cluster for the broker resource."""
    if r["resource_type"] == TOPIC_RESOURCE:
        return ctx.allowed(session, operation, "topic", r["resource_name"])
    return ctx.allowed(session, operation, "cluster")


def _denied_code(r: dict[str, Any]) -> int:
    return E.TOPIC_AUTHORIZATION_FAILED if r["resource_type"] == TOPIC_RESOURCE else E.CLUSTER_AUTHORIZATION_FAILED


def _alter(ctx: Any, session: Any, req: dict[str, Any], incremental: bool) -> dict[str, Any]:
    out = []
    for r in req["resources"]:
        res = {"error_code": E.NONE, "error_message": None, "resource_type": r["resource_type"],
               "resource_name": r["resource_name"]}
        out.append(res)
        if not _may_configs(ctx, session, "AlterConfigs", r):
            res.update(error_code=_denied_code(r), error_message="not authorized to alter these configs")
            continue
        if r["resource_type"] != TOPIC_RESOURCE:
            res.update(error_code=E.INVALID_REQUEST, error_message="only topic configs can be altered")
            continue
        changes: dict[str, str | None] = {}
        for c in r["configs"]:
            op = c.get("config_operation", SET)
            if op == SET and c["value"] is None:  # Kafka: "Null value not supported for : <name>"
                res.update(error_code=E.INVALID_REQUEST, error_message=f"null value not supported for {c['name']}")
                break
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
    return _alter(ctx, session, req, incremental=False)


def handle_incremental_alter_configs(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return _alter(ctx, session, req, incremental=True)
