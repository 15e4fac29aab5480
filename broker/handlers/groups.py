"""FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit/OffsetFetch,
DescribeGroups, ListGroups: thin translations onto the GroupCoordinator."""
from __future__ import annotations

from typing import Any

from logwarden.broker.context import NODE_ID
from logwarden.broker.protocol import errors as E

from .metadata import advertised


# What a transactional producer is told. Transactions are not supported, and librdkafka asks
# for a transaction coordinator even though the broker does not advertise the transactional
# APIs: told "here I am" it went on, never sent its records and timed out in
# commit_transaction. TRANSACTIONAL_ID_AUTHORIZATION_FAILED is the answer every client
# treats as fatal at once (init_transactions fails, with this message).
NO_TRANSACTIONS = "transactions are not supported by this broker (single node; use an idempotent producer)"


def handle_find_coordinator(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    host, port = advertised(ctx, session)
    key_type = req.get("key_type", 0)
    if key_type == 1:
        return {"throttle_time_ms": 0, "error_code": E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "error_message": NO_TRANSACTIONS, "node_id": -1, "host": "", "port": -1}
    if key_type != 0:
        return {"error_code": E.INVALID_REQUEST, "error_message": "unknown key_type", "node_id": -1, "host": "", "port": -1}
    if not ctx.allowed(session, "Describe", "group", req["key"]):
        return {"throttle_time_ms": 0, "error_code": E.GROUP_AUTHORIZATION_FAILED, "error_message": None,
                "node_id": -1, "host": "", "port": -1}
    return {"throttle_time_ms": 0, "error_code": E.NONE, "error_message": None, "node_id": NODE_ID, "host": host, "port": port}


def _group_denied(ctx: Any, session: Any, group_id: str, operation: str = "Read") -> bool:
    return not ctx.allowed(session, operation, "group", group_id)


def handle_join_group(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> Any:
    if _group_denied(ctx, session, req["group_id"]):
        return {"throttle_time_ms": 0, "error_code": E.GROUP_AUTHORIZATION_FAILED, "generation_id": -1,
                "protocol_name": "", "leader": "", "member_id": req["member_id"], "members": []}
    host = str(session.peer[0]) if session.peer else ""
    return ctx.coordinator.join(req, hdr.api_version, hdr.client_id or "", "/" + host)


def handle_sync_group(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> Any:
    if _group_denied(ctx, session, req["group_id"]):
        return {"throttle_time_ms": 0, "error_code": E.GROUP_AUTHORIZATION_FAILED, "assignment": b""}
    return ctx.coordinator.sync(req)


def handle_heartbeat(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    if _group_denied(ctx, session, req["group_id"]):
        return {"throttle_time_ms": 0, "error_code": E.GROUP_AUTHORIZATION_FAILED}
    return ctx.coordinator.heartbeat(req)


def handle_leave_group(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    if _group_denied(ctx, session, req["group_id"]):
        return {"throttle_time_ms": 0, "error_code": E.GROUP_AUTHORIZATION_FAILED, "members": []}
    if hdr.api_version >= 3:
        who = [(m["member_id"], m["group_instance_id"]) for m in req["members"]]
        codes = ctx.coordinator.leave(req["group_id"], who)
        return {"throttle_time_ms": 0, "error_code": E.NONE,
                "members": [{"member_id": m, "group_instance_id": i, "error_code": c} for (m, i), c in zip(who, codes)]}
    codes = ctx.coordinator.leave(req["group_id"], [(req["member_id"], None)])
    return {"throttle_time_ms": 0, "error_code": codes[0]}


# Kafka's offset.metadata.max.bytes default: longer metadata is refused per partition
OFFSET_METADATA_MAX_BYTES = 4096


def handle_offset_commit(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    """As Kafka's handleOffsetCommitRequest: a partition that does not exist is answered
    UNKNOWN_TOPIC_OR_PARTITION before any group check (an offset stored for it would be
    where a consumer starts once the partition is created); then the group's verdict; then
    the metadata size. An empty group id is accepted, as Kafka does for old clients."""
    if _group_denied(ctx, session, req["group_id"]):
        # Kafka answers every partition with the group's refusal
        return {"throttle_time_ms": 0, "topics": [
            {"name": t["name"], "partitions": [{"partition_index": p["partition_index"], "error_code": E.GROUP_AUTHORIZATION_FAILED}
                                               for p in t["partitions"]]} for t in req["topics"]]}
    err = ctx.coordinator.commit_error(req)
    counts = ctx.logs.topics()
    entries = []
    topics = []
    for t in req["topics"]:
        parts = []
        for p in t["partitions"]:
            code = err
            if not ctx.allowed(session, "Read", "topic", t["name"]):
                code = E.TOPIC_AUTHORIZATION_FAILED
            elif not 0 <= p["partition_index"] < counts.get(t["name"], 0):
                code = E.UNKNOWN_TOPIC_OR_PARTITION
            elif not code and len(p["committed_metadata"] or "") > OFFSET_METADATA_MAX_BYTES:
                code = E.OFFSET_METADATA_TOO_LARGE
            if not code:
                entries.append((t["name"], p["partition_index"], p["committed_offset"],
                                p.get("committed_leader_epoch", -1), p["committed_metadata"]))
            parts.append({"partition_index": p["partition_index"], "error_code": code})
        topics.append({"name": t["name"], "partitions": parts})
    if entries:
        ctx.coordinator.offsets.commit(req["group_id"], entries)
    return {"throttle_time_ms": 0, "topics": topics}


def handle_offset_fetch(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    if _group_denied(ctx, session, req["group_id"], "Describe"):
        return {"throttle_time_ms": 0, "topics": [], "error_code": E.GROUP_AUTHORIZATION_FAILED}
    committed = ctx.coordinator.offsets.fetch(req["group_id"])
    wanted = req["topics"]
    if wanted is None:
        by_topic: dict[str, list[int]] = {}
        for (topic, part) in committed:
            by_topic.setdefault(topic, []).append(part)
        # all of the group's offsets: only those of topics the principal may Describe (Kafka)
        wanted = [{"name": t, "partition_indexes": sorted(ps)} for t, ps in sorted(by_topic.items())
                  if ctx.allowed(session, "Describe", "topic", t)]
    topics = []
    for t in wanted:
        parts = []
        if not ctx.allowed(session, "Describe", "topic", t["name"]):
            topics.append({"name": t["name"], "partitions": [
                {"partition_index": i, "committed_offset": -1, "committed_leader_epoch": -1, "metadata": "",
                 "error_code": E.TOPIC_AUTHORIZATION_FAILED} for i in t["partition_indexes"]]})
            continue
        for idx in t["partition_indexes"]:
            c = committed.get((t["name"], idx))
            parts.append({"partition_index": idx, "committed_offset": c.offset if c else -1,
                          "committed_leader_epoch": c.leader_epoch if c else -1,
                          "metadata": c.metadata if c else "", "error_code": E.NONE})
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics, "error_code": E.NONE}


def handle_describe_groups(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "groups": [
        ctx.coordinator.describe(g) if not _group_denied(ctx, session, g, "Describe") else
        {"error_code": E.GROUP_AUTHORIZATION_FAILED, "group_id": g, "group_state": "", "protocol_type": "",
         "protocol_data": "", "members": []} for g in req["groups"]]}


def handle_list_groups(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return {"throttle_time_ms": 0, "error_code": E.NONE,
            "groups": [{"group_id": g, "protocol_type": t} for g, t in ctx.coordinator.list_groups()
                       if not _group_denied(ctx, session, g, "Describe")]}  # Kafka lists only those


def handle_delete_groups(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return {"throttle_time_ms": 0,
            "results": [{"group_id": g, "error_code": E.GROUP_AUTHORIZATION_FAILED if _group_denied(ctx, session, g, "Delete")
                         else ctx.coordinator.delete(g)} for g in req["groups_names"]]}
