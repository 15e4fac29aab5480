"""Per-topic log settings with Kafka's names and defaults.

`LogConfig` holds them in snake_case; topics store only their overrides, in Kafka's dotted
spelling (`retention.ms`), exactly as CreateTopics and DescribeConfigs carry them, and the
effective config is the broker default with those overrides applied.

fsync policy (see docs/broker-storage.md): `append()` hands every batch to the kernel with
one write before it returns, so an acknowledged record survives SIGKILL of the broker
(the page cache belongs to the kernel). `flush_messages`/`flush_ms` bound what a power loss
or kernel crash can take: by default at most about one second of acknowledged records.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError

from logwarden.model import Model

from .errors import InvalidConfigError

MiB = 1024 * 1024
DAY_MS = 24 * 3600 * 1000
# Kafka spells "never" for flush.messages / flush.ms as Long.MAX_VALUE.
KAFKA_LONG_MAX = 9223372036854775807
# Index entries store file positions as u32 and offsets relative to the segment as u32.
MAX_SEGMENT_BYTES = 2**31 - 1


class LogConfig(Model):
    segment_bytes: int = Field(256 * MiB, ge=14, le=MAX_SEGMENT_BYTES, description="segment.bytes: roll the active segment before it grows past this size.")
    segment_ms: int = Field(7 * DAY_MS, ge=1, description="segment.ms: roll the active segment when its first batch is older than this, so retention can delete it.")
    retention_bytes: int = Field(-1, ge=-1, description="retention.bytes: delete the oldest segments while the partition is larger than this; -1 = no size limit.")
    retention_ms: int = Field(7 * DAY_MS, ge=-1, description="retention.ms: delete a segment once its newest timestamp is older than this; -1 = keep forever.")
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = Field("delete", description="cleanup.policy: `delete` applies retention; `compact` keeps the last record per key; both may be combined.")
    delete_retention_ms: int = Field(DAY_MS, ge=0, description="delete.retention.ms: how long the compactor keeps a tombstone (null value) after compacting, so consumers can see the delete.")
    flush_messages: int | None = Field(None, ge=1, description="flush.messages: fsync after this many appended records; None = never count-based. 1 = fsync before every acknowledgement.")
    flush_ms: int | None = Field(1000, ge=0, description="flush.ms: the maintenance thread fsyncs a log with unflushed data once its last fsync is this old; 0 = fsync in every append; None = leave it to the kernel.")
    max_message_bytes: int = Field(8 * MiB, ge=0, description="max.message.bytes: largest record batch accepted, in bytes.")
    index_interval_bytes: int = Field(4096, ge=0, description="index.interval.bytes: bytes between two entries of the sparse offset and time indexes.")
    message_timestamp_type: Literal["CreateTime", "LogAppendTime"] = Field("CreateTime", description="message.timestamp.type: keep the producer's timestamps, or stamp each batch with the broker's clock on append (its CRC is then recomputed).")
    file_delete_delay_ms: int = Field(60000, ge=0, description="file.delete.delay.ms: deleted segments keep their open file handles this long so in-flight fetches (sendfile) finish.")


# Kafka topic config name -> LogConfig field.
KAFKA_NAMES: dict[str, str] = {
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "retention.bytes": "retention_bytes",
    "retention.ms": "retention_ms",
    "cleanup.policy": "cleanup_policy",
    "delete.retention.ms": "delete_retention_ms",
    "flush.messages": "flush_messages",
    "flush.ms": "flush_ms",
    "max.message.bytes": "max_message_bytes",
    "index.interval.bytes": "index_interval_bytes",
    "file.delete.delay.ms": "file_delete_delay_ms",
    "message.timestamp.type": "message_timestamp_type",
}
FIELD_NAMES = {v: k for k, v in KAFKA_NAMES.items()}
_NULLABLE = {"flush_messages", "flush_ms"}

# Valid Kafka topic configs this broker accepts and reports back but does not act on
# (replication, compression conversion, ...): clients and tools send them routinely.
# Kafka's default of each (DescribeConfigs lists them all, as Kafka does) and the kind of
# value it takes: a value Kafka would refuse is refused here too (INVALID_CONFIG).
_LONG = str(KAFKA_LONG_MAX)
ACCEPTED_KAFKA_DEFAULTS: dict[str, tuple[str, str]] = {
    "compression.type": ("producer", "compression"),
    "min.insync.replicas": ("1", "int>=1"),
    "unclean.leader.election.enable": ("false", "bool"),
    "message.timestamp.difference.max.ms": (_LONG, "long>=0"),
    "message.timestamp.before.max.ms": (_LONG, "long>=0"),
    "message.timestamp.after.max.ms": (_LONG, "long>=0"),
    "message.downconversion.enable": ("true", "bool"),
    "min.compaction.lag.ms": ("0", "long>=0"),
    "max.compaction.lag.ms": (_LONG, "long>=1"),
    "min.cleanable.dirty.ratio": ("0.5", "ratio"),
    "preallocate": ("false", "bool"),
    "segment.index.bytes": ("10485760", "int>=4"),
    "segment.jitter.ms": ("0", "long>=0"),
    "follower.replication.throttled.replicas": ("", "list"),
    "leader.replication.throttled.replicas": ("", "list"),
    "local.retention.ms": ("-2", "long>=-2"),
    "local.retention.bytes": ("-2", "long>=-2"),
    "remote.storage.enable": ("false", "bool"),
    "message.format.version": ("3.0-IV1", "string"),
}
ACCEPTED_KAFKA_NAMES = frozenset(ACCEPTED_KAFKA_DEFAULTS)
_COMPRESSION = {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}


def _check_accepted(name: str, raw: str) -> None:
    kind = ACCEPTED_KAFKA_DEFAULTS[name][1]
    ok = True
    if kind == "compression":
        ok = raw in _COMPRESSION
    elif kind == "bool":
        ok = raw.lower() in ("true", "false")
    elif kind == "ratio":
        try:
            ok = 0.0 <= float(raw) <= 1.0
        except ValueError:
            ok = False
    elif kind.startswith(("int>=", "long>=")):
        try:
            ok = int(raw) >= int(kind.split(">=")[1]) and (kind.startswith("long") or int(raw) < 2**31)
        except ValueError:
            ok = False
    if not ok:
        raise InvalidConfigError(f"invalid value {raw!r} for topic config {name!r}")


def _to_kafka(field: str, value: object) -> str:
    if value is None and field in _NULLABLE:
        return str(KAFKA_LONG_MAX)
    return str(value)


def _from_kafka(field: str, raw: str) -> object:
    if field == "message_timestamp_type":
        return raw.strip()
    if field == "cleanup_policy":
        parts = sorted(p.strip() for p in raw.split(",") if p.strip())
        return ",".join(parts)
    try:
        value = int(raw)
    except ValueError:
        raise InvalidConfigError(f"{FIELD_NAMES[field]}: expected an integer, got {raw!r}") from None
    if field in _NULLABLE and value >= KAFKA_LONG_MAX:
        return None
    return value


def apply_overrides(base: LogConfig, overrides: dict[str, str] | None) -> LogConfig:
    """The effective config of a topic: `base` with Kafka-named string overrides applied.

    Raises InvalidConfigError naming the key for unknown names or bad values."""
    if not overrides:
        return base
    values = base.model_dump()
    for name, raw in overrides.items():
        if name in ACCEPTED_KAFKA_NAMES:
            if raw is not None:
                _check_accepted(name, str(raw))
            continue
        field = KAFKA_NAMES.get(name)
        if field is None:
            raise InvalidConfigError(f"unknown topic config {name!r}")
        if raw is None:  # DescribeConfigs/AlterConfigs null = back to the default
            continue
        values[field] = _from_kafka(field, str(raw))
    try:
        return LogConfig(**values)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        raise InvalidConfigError(f"{FIELD_NAMES.get(field, field)}: {err['msg']}") from None


def validate_overrides(overrides: dict[str, str] | None) -> dict[str, str]:
    """Check overrides against a default config and return them normalized to str values."""
    clean = {k: str(v) for k, v in (overrides or {}).items() if v is not None}
    apply_overrides(LogConfig(), clean)
    return clean


def describe(config: LogConfig, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Kafka-named string values of every setting (DescribeConfigs), overrides included."""
    out = {FIELD_NAMES[f]: _to_kafka(f, getattr(config, f)) for f in KAFKA_NAMES.values()}
    for name, (default, _kind) in ACCEPTED_KAFKA_DEFAULTS.items():
        raw = (overrides or {}).get(name)
        out[name] = default if raw is None else str(raw)
    return out


# Kafka's broker-level setting behind each topic config (LogConfig's synonyms): what
# DescribeConfigs reports as a config's synonyms, so tools can tell where a value comes from.
BROKER_SYNONYMS: dict[str, str] = {
    "segment.bytes": "log.segment.bytes", "segment.ms": "log.roll.ms", "retention.bytes": "log.retention.bytes",
    "retention.ms": "log.retention.ms", "cleanup.policy": "log.cleanup.policy",
    "delete.retention.ms": "log.cleaner.delete.retention.ms", "flush.messages": "log.flush.interval.messages",
    "flush.ms": "log.flush.interval.ms", "max.message.bytes": "message.max.bytes",
    "index.interval.bytes": "log.index.interval.bytes", "file.delete.delay.ms": "log.segment.delete.delay.ms",
    "message.timestamp.type": "log.message.timestamp.type", "compression.type": "compression.type",
    "min.insync.replicas": "min.insync.replicas", "unclean.leader.election.enable": "unclean.leader.election.enable",
    "message.timestamp.difference.max.ms": "log.message.timestamp.difference.max.ms",
    "message.timestamp.before.max.ms": "log.message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms": "log.message.timestamp.after.max.ms",
    "message.downconversion.enable": "log.message.downconversion.enable",
    "min.compaction.lag.ms": "log.cleaner.min.compaction.lag.ms",
    "max.compaction.lag.ms": "log.cleaner.max.compaction.lag.ms",
    "min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio", "preallocate": "log.preallocate",
    "segment.index.bytes": "log.index.size.max.bytes", "segment.jitter.ms": "log.roll.jitter.ms",
    "local.retention.ms": "log.local.retention.ms", "local.retention.bytes": "log.local.retention.bytes",
    "message.format.version": "log.message.format.version",
}
