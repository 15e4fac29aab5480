"""Everything a request handler may touch, in one object: the logs, the group coordinator,
idempotent-producer state, delayed-fetch waiters, listener identity and security settings.

There is one broker (node 0) and one replica per partition, so this node is the leader of
every partition and the coordinator of every group; high watermark = log end offset =
last stable offset.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .groups.coordinator import GroupCoordinator
from .producers import ProducerStateTable
from .protocol.frames import DEFAULT_MAX_FRAME_BYTES
from .storage import is_internal_topic

log = logging.getLogger("logwarden.broker")

NODE_ID = 0
CLUSTER_ID = "logwarden-embedded"


class BrokerContext:
    def __init__(self, logs: Any, *, host: str, port: int, auto_create_topics: bool = True,
                 default_partitions: int = 1, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 sasl_users: dict[str, Any] | None = None, sasl_mechanisms: list[str] | None = None,
                 connections_max_idle_ms: int = 600_000, authorizer: Any = None):
        self.logs = logs
        self.host, self.port = host, port
        self.auto_create_topics = auto_create_topics
        self.default_partitions = default_partitions
        self.max_frame_bytes = max_frame_bytes
        self.connections_max_idle_ms = connections_max_idle_ms
        self.sasl_users = sasl_users or {}
        self.sasl_mechanisms = sasl_mechanisms or []
        from .security.acl import Authorizer

        self.authorizer = authorizer or Authorizer()  # no entries: authorization off
        self.connections: set[Any] = set()
        self.producers = ProducerStateTable()
        self.coordinator = GroupCoordinator(logs)
        # (topic, partition) -> futures of delayed fetches waiting for new data there
        self.waiters: dict[tuple[str, int], list[asyncio.Future[None]]] = {}
        self._pid_counter = 0

    # -- authorization (security/acl.py) --------------------------------------------------
    def allowed(self, session: Any, operation: str, resource_type: str, name: str = "kafka-cluster") -> bool:
        """Whether the connection's principal may do `operation` on the resource."""
        if not self.authorizer.enabled:
            return True
        from .security.acl import principal_of

        return self.authorizer.allowed(principal_of(session.principal), operation, resource_type, name)  # type: ignore[arg-type]

    def may_create(self, session: Any, topic: str) -> bool:
        """Auto-creating or creating `topic` needs Create on the cluster or on the topic (Kafka)."""
        return self.allowed(session, "Create", "cluster") or self.allowed(session, "Create", "topic", topic)

    # -- topics ------------------------------------------------------------------------
    def topic_exists(self, name: str, allow_create: bool) -> bool:
        """Produce's per-request check: O(1) when the topic exists (the common case)."""
        return self.logs.has_topic(name) or self.ensure_topic(name, allow_create) is not None

    def ensure_topic(self, name: str, allow_create: bool) -> int | None:
        """Partition count of `name`, auto-creating it when allowed; None if absent."""
        n = self.logs.topics().get(name)
        if n is None and allow_create and self.auto_create_topics and not is_internal_topic(name):
            from .storage.errors import StorageError
            try:
                self.logs.create_topic(name, self.default_partitions)
                log.debug("auto-created topic %s with %d partitions", name, self.default_partitions, extra={"topic": name, "partitions": self.default_partitions})
            except StorageError as exc:
                log.info("auto-create of topic %r refused: %s", name, exc, extra={"topic": name, "reason": str(exc)})
                return None
            n = self.logs.topics().get(name)
        return n

    def close_idle(self, now: float) -> int:
        """Close connections idle longer than connections.max.idle.ms (`now`: loop.time())."""
        limit = self.connections_max_idle_ms / 1000
        n = 0
        for conn in list(self.connections):
            if not conn.busy and not conn.closed and now - conn.last_active > limit:
                log.info("closing idle connection from %s", conn.session.peer if conn.session else None)
                conn.closed = True
                conn.transport.close()
                n += 1
        return n

    # -- delayed fetch -----------------------------------------------------------------
    def notify(self, topic: str, partition: int) -> None:
        """New data in a partition: wake every delayed fetch waiting on it."""
        futs = self.waiters.pop((topic, partition), None)
        if futs:
            for f in futs:
                if not f.done():
                    f.set_result(None)

    # -- idempotent producers ----------------------------------------------------------
    def next_producer_id(self) -> int:
        """Unique across restarts without persisted state: wall-clock ms scaled, plus a counter."""
        self._pid_counter += 1
        return int(time.time() * 1000) * 1000 + self._pid_counter % 1000
