"""One `handle_<api>` per Kafka API key, found by key in HANDLERS (a plain dict).

A handler takes (ctx: BrokerContext, session: Session, header: RequestHeader, request dict)
and returns the response dict, an awaitable of it, or None for no response (acks=0).
"""
from __future__ import annotations

from typing import Any, Callable

from . import admin, api_versions, fetch, groups, list_offsets, metadata, produce, sasl

HANDLERS: dict[int, Callable[..., Any]] = {
    0: produce.handle_produce,
    1: fetch.handle_fetch,
    2: list_offsets.handle_list_offsets,
    3: metadata.handle_metadata,
    8: groups.handle_offset_commit,
    9: groups.handle_offset_fetch,
    10: groups.handle_find_coordinator,
    11: groups.handle_join_group,
    12: groups.handle_heartbeat,
    13: groups.handle_leave_group,
    14: groups.handle_sync_group,
    15: groups.handle_describe_groups,
    16: groups.handle_list_groups,
    17: sasl.handle_sasl_handshake,
    18: api_versions.handle_api_versions,
    19: admin.handle_create_topics,
    20: admin.handle_delete_topics,
    22: produce.handle_init_producer_id,
    32: admin.handle_describe_configs,
    33: admin.handle_alter_configs,
    36: sasl.handle_sasl_authenticate,
    37: admin.handle_create_partitions,
    42: groups.handle_delete_groups,
    44: admin.handle_incremental_alter_configs,
}
