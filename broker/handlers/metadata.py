"""Metadata: this single node leads every partition of every topic.

The advertised host/port is the address the client reached us on (the socket's local
address), so the broker works behind any interface it listens on without configuration.
"""
from __future__ import annotations

from typing import Any

from logwarden.broker.context import CLUSTER_ID, NODE_ID
from logwarden.broker.protocol import errors as E
from logwarden.broker.storage import is_internal_topic, validate_topic_name
from logwarden.broker.storage.errors import InvalidTopicError


def advertised(ctx: Any, session: Any) -> tuple[str, int]:
    local = session.local
    if local:
        return local[0], local[1]
    return ctx.host, ctx.port


def topic_entry(name: str, n: int | None) -> dict[str, Any]:
    if n is None:
        return {"error_code": E.UNKNOWN_TOPIC_OR_PARTITION, "name": name, "is_internal": False, "partitions": []}
    return {"error_code": E.NONE, "name": name, "is_internal": is_internal_topic(name),
            "partitions": [{"error_code": E.NONE, "partition_index": p, "leader_id": NODE_ID, "leader_epoch": 0,
                            "replica_nodes": [NODE_ID], "isr_nodes": [NODE_ID], "offline_replicas": []}
                           for p in range(n)]}


def handle_metadata(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    host, port = advertised(ctx, session)
    wanted = req["topics"]
    if wanted is None or (hdr.api_version == 0 and not wanted):
        # every topic the principal may Describe; the others are left out, as Kafka does
        topics = [topic_entry(n, c) for n, c in sorted(ctx.logs.topics().items()) if ctx.allowed(session, "Describe", "topic", n)]
    else:
        allow = req.get("allow_auto_topic_creation", True)
        topics = []
        for name in dict.fromkeys(t["name"] for t in wanted):  # each topic once, as Kafka (a set there)
            try:
                validate_topic_name(name)
            except InvalidTopicError:
                # Kafka answers a name that can never exist with INVALID_TOPIC_EXCEPTION, auto-create
                # or not; UNKNOWN_TOPIC_OR_PARTITION would have a producer wait for it until its
                # message timeout (librdkafka: 5 minutes) instead of failing at once.
                topics.append({"error_code": E.INVALID_TOPIC_EXCEPTION, "name": name, "partitions": []})
                continue
            if not ctx.allowed(session, "Describe", "topic", name):
                topics.append({"error_code": E.TOPIC_AUTHORIZATION_FAILED, "name": name, "is_internal": False, "partitions": []})
                continue
            topics.append(topic_entry(name, ctx.ensure_topic(name, allow and ctx.may_create(session, name))))
    return {"throttle_time_ms": 0,
            "brokers": [{"node_id": NODE_ID, "host": host, "port": port, "rack": None}],
            "cluster_id": CLUSTER_ID, "controller_id": NODE_ID, "topics": topics}
