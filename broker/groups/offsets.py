"""Committed offsets, kept in memory and persisted in the compacted `__consumer_offsets`.

Records use Kafka's own key/value formats so Kafka tooling can read the topic:
    offset key   (version 1): int16 version, string group, string topic, int32 partition
    offset value (version 3): int16 version, int64 offset, int32 leader_epoch,
                              string metadata, int64 commit_timestamp
    group key    (version 2): int16 version, string group
    group value  (version 3): GROUP_VALUE below (generation, leader, members with their
                              subscriptions and assignments), written when a group
                              becomes Stable or Empty
A null value is a tombstone. On start the whole topic is replayed in order, last write
wins; compaction by the storage layer keeps it small. Restoring group membership lets
members carry on (heartbeats, commits) across a broker restart instead of failing with
UNKNOWN_MEMBER_ID and re-reading from their last commit.
"""
from __future__ import annotations

import logging
import struct
import zlib
from typing import Any, NamedTuple

from logwarden.broker.producers import slice_bytes
from logwarden.broker.protocol.batches import build_batch, iter_batches, iter_records
from logwarden.broker.protocol.types import BYTES, INT32, INT64, NSTRING, STRING, Array, F, Struct, Writer
from logwarden.broker.storage.log import now_ms

log = logging.getLogger("logwarden.broker.groups")

OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PARTITIONS = 1
_h = struct.Struct(">h")
_i32 = struct.Struct(">i")
_value = struct.Struct(">hqi")


# Kafka's GroupMetadataValue, version 3 (core/src/main/resources/common/message/GroupMetadataValue.json)
GROUP_VALUE = Struct(
    F("protocol_type", STRING), F("generation", INT32), F("protocol", NSTRING), F("leader", NSTRING),
    F("current_state_timestamp", INT64),
    F("members", Array(Struct(
        F("member_id", STRING), F("group_instance_id", NSTRING), F("client_id", STRING), F("client_host", STRING),
        F("rebalance_timeout", INT32), F("session_timeout", INT32), F("subscription", BYTES), F("assignment", BYTES)))))
_GROUP_CODEC = GROUP_VALUE.compile(3, False)


def encode_group_key(group: str) -> bytes:
    return _h.pack(2) + _str(group)


def encode_group_value(value: dict[str, Any]) -> bytes:
    w = Writer()
    w.buf += _h.pack(3)
    _GROUP_CODEC.encode(w, value)
    return b"".join(bytes(c) for c in w.finish())


def decode_group_value(b: bytes) -> dict[str, Any] | None:
    if _h.unpack_from(b, 0)[0] != 3:
        return None  # other versions (Kafka's older ones) are not restored
    return _GROUP_CODEC.decode(memoryview(b), 2)[0]


class Committed(NamedTuple):
    offset: int
    leader_epoch: int
    metadata: str
    timestamp: int


def _str(s: str) -> bytes:
    b = s.encode()
    return _h.pack(len(b)) + b


def encode_key(group: str, topic: str, partition: int) -> bytes:
    return _h.pack(1) + _str(group) + _str(topic) + _i32.pack(partition)


def decode_key(b: bytes) -> tuple[str, str, int] | None:
    version = _h.unpack_from(b, 0)[0]
    if version not in (0, 1):
        return None  # group metadata records (version 2) are not kept
    pos = 2
    parts = []
    for _ in range(2):
        n = _h.unpack_from(b, pos)[0]
        parts.append(b[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    return parts[0], parts[1], _i32.unpack_from(b, pos)[0]


def encode_value(c: Committed) -> bytes:
    return _value.pack(3, c.offset, c.leader_epoch) + _str(c.metadata) + struct.pack(">q", c.timestamp)


def decode_value(b: bytes) -> Committed:
    _version, offset, epoch = _value.unpack_from(b, 0)
    n = _h.unpack_from(b, 14)[0]
    meta = b[16:16 + max(n, 0)].decode()
    ts = struct.unpack_from(">q", b, 16 + max(n, 0))[0]
    return Committed(offset, epoch, meta, ts)


class OffsetStore:
    def __init__(self, logs: Any):
        self.logs = logs
        self.offsets: dict[str, dict[tuple[str, int], Committed]] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # last persisted GROUP_VALUE per group
        if OFFSETS_TOPIC not in logs.topics():
            logs.create_topic(OFFSETS_TOPIC, OFFSETS_PARTITIONS, {"cleanup.policy": "compact"})
        self._load()

    def _load(self) -> None:
        n = 0
        for p in range(self.logs.topics()[OFFSETS_TOPIC]):
            plog = self.logs.get(OFFSETS_TOPIC, p)
            offset = plog.log_start_offset
            while offset < plog.log_end_offset:
                data = memoryview(slice_bytes(plog.read(offset, 16 * 1024 * 1024)))
                if not data:
                    break
                pos = 0
                last = offset
                for h in iter_batches(data):
                    try:
                        for _off, _ts, key, value in iter_records(data[pos:pos + h.size], h):
                            n += 1
                            self._apply(key, value)
                    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
                        # not written by this coordinator (or a future format): skip, never refuse to start
                        log.warning("skipping unreadable %s batch at offset %d: %s", OFFSETS_TOPIC, h.base_offset, exc)
                    pos += h.size
                    last = h.base_offset + h.last_offset_delta + 1
                if last == offset:
                    break
                offset = last
        log.debug("loaded %d committed-offset records of %d groups", n, len(self.offsets), extra={"records": n, "groups": len(self.offsets)})

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if _h.unpack_from(key, 0)[0] == 2:
            n = _h.unpack_from(key, 2)[0]
            group = key[4:4 + n].decode()
            meta = decode_group_value(value) if value is not None else None
            if meta is None:
                self.groups.pop(group, None)
            else:
                self.groups[group] = meta
            return
        k = decode_key(key)
        if k is None:
            return
        group, topic, partition = k
        if value is None:
            self.offsets.get(group, {}).pop((topic, partition), None)
        else:
            self.offsets.setdefault(group, {})[(topic, partition)] = decode_value(value)

    def commit(self, group: str, entries: list[tuple[str, int, int, int, str]]) -> None:
        """Persist (topic, partition, offset, leader_epoch, metadata) entries, then apply them."""
        now = now_ms()
        recs = []
        for topic, partition, offset, epoch, meta in entries:
            c = Committed(offset, epoch, meta or "", now)
            recs.append((encode_key(group, topic, partition), encode_value(c)))
        if not recs:
            return
        part = zlib.crc32(group.encode()) % self.logs.topics()[OFFSETS_TOPIC]
        self.logs.get(OFFSETS_TOPIC, part).append(build_batch(recs, now))
        for key, value in recs:
            self._apply(key, value)

    def store_group(self, group: str, value: dict[str, Any] | None) -> None:
        """Persist a group's membership (GROUP_VALUE) or its tombstone."""
        key = encode_group_key(group)
        raw = None if value is None else encode_group_value(value)
        part = zlib.crc32(group.encode()) % self.logs.topics()[OFFSETS_TOPIC]
        self.logs.get(OFFSETS_TOPIC, part).append(build_batch([(key, raw)], now_ms()))
        self._apply(key, raw)

    def fetch(self, group: str) -> dict[tuple[str, int], Committed]:
        return self.offsets.get(group, {})

    def delete_group(self, group: str) -> None:
        """Tombstone every committed offset of `group`."""
        self._tombstone(group, list(self.offsets.get(group, {})))
        self.offsets.pop(group, None)

    def delete_topic(self, topic: str) -> None:
        """Tombstone every group's committed offsets of `topic`, as Kafka does when a topic
        is deleted: a topic created again under that name is new, and its consumers must
        start where auto.offset.reset says - not at an old offset, skipping its first records."""
        for group, committed in list(self.offsets.items()):
            self._tombstone(group, [k for k in committed if k[0] == topic])

    def _tombstone(self, group: str, keys: list[tuple[str, int]]) -> None:
        if not keys:
            return
        part = zlib.crc32(group.encode()) % self.logs.topics()[OFFSETS_TOPIC]
        batch = build_batch([(encode_key(group, t, p), None) for t, p in keys], now_ms())
        self.logs.get(OFFSETS_TOPIC, part).append(batch)
        committed = self.offsets.get(group, {})
        for k in keys:
            committed.pop(k, None)
