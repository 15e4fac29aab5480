"""ListOffsets: earliest (-2), latest (-1) or the first offset at/after a timestamp."""
from __future__ import annotations

from typing import Any

from logwarden.broker.protocol import errors as E
from logwarden.broker.storage.errors import StorageError

LATEST, EARLIEST = -1, -2


def handle_list_offsets(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    topics = []
    for t in req["topics"]:
        parts = []
        for p in t["partitions"]:
            # leader epoch -1 unless an offset is answered (Kafka); this single node's epoch is 0
            entry = {"partition_index": p["partition_index"], "error_code": E.NONE, "timestamp": -1,
                     "offset": -1, "leader_epoch": -1}
            if not ctx.allowed(session, "Describe", "topic", t["name"]):
                entry["error_code"] = E.TOPIC_AUTHORIZATION_FAILED
                parts.append(entry)
                continue
            try:
                plog = ctx.logs.get(t["name"], p["partition_index"])
                ts = p["timestamp"]
                if ts == LATEST:
                    entry["offset"], entry["leader_epoch"] = plog.log_end_offset, 0
                elif ts == EARLIEST:
                    entry["offset"], entry["leader_epoch"] = plog.log_start_offset, 0
                else:
                    found = plog.offset_for_timestamp(ts)
                    if found is not None:
                        (entry["offset"], entry["timestamp"]), entry["leader_epoch"] = found, 0
            except StorageError as exc:
                entry["error_code"] = exc.kafka_error_code
            parts.append(entry)
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
