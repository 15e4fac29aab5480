"""Configuration of log sources the agent tails (`sources:` in logwarden.yml) and of the agent itself.

`FileSource` is one entry of `sources:` (a set of globs, what to tag them with, how to join
multiline records). `AgentConfig` holds the agent-wide knobs (registry, spool, producer
batching and timeouts); it belongs under an `agent:` key of the core Config. Names spell
their unit (`_ms`, `_bytes`) as Vector's do; defaults follow Filebeat's where one exists.
"""
from typing import Literal

from pydantic import Field, field_validator

from logwarden.model import Listen, Model


class MultilineConfig(Model):
    """Filebeat's `multiline.pattern/negate/match`: which lines continue the previous record."""

    pattern: str = Field(description="Regular expression tested against each line (Python `re` syntax), e.g. '^[[:space:]]' is written '^\\s'.")
    negate: bool = Field(False, description="Invert the match: with negate, lines NOT matching the pattern are the ones that get joined.")
    match: Literal["after", "before"] = Field("after", description="after: a (negated) matching line is appended to the record before it (Java stack traces); before: it is prepended to the line after it (lines ending with a backslash).")
    max_lines: int = Field(500, ge=1, description="Lines joined into one record at most; further lines start a new record.")
    timeout_ms: int = Field(5000, ge=1, description="A pending record is shipped after this long without a new line, even without the next record's first line.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        import re

        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class FileSource(Model):
    type: Literal["file"] = Field("file", description="A set of files found by glob and tailed.")
    paths: list[str] = Field(description="Glob patterns of files to tail, e.g. /var/log/nginx/*.log (`**` matches across directories).")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of files NOT to tail even when `paths` match them, e.g. '*.gz'.")
    format: str | None = Field(None, description="Parser to use for these lines (nginx, sshd, syslog, json, auto...). Shipped as fields.log_format.")
    fields: dict[str, str] = Field(default_factory=dict, description="Extra fields added to every event under `fields`.")
    tags: list[str] = Field(default_factory=list, description="Tags added to every event.")
    start_at: Literal["beginning", "end"] = Field("beginning", description="Where to start reading a file seen for the first time.")
    max_line_bytes: int = Field(262_144, ge=64, description="Longer lines are cut to this many bytes, shipped with log.flags ['truncated'], and the rest of the line is skipped. Keep the envelope under the broker's maximum message size (Kafka's default is 1 MB).")
    multiline: MultilineConfig | None = Field(None, description="Join continuation lines (stack traces) into one record; off when empty.")


class AgentConfig(Model):
    """Agent-wide settings (`agent:` in logwarden.yml)."""

    name: str | None = Field(None, description="agent.name in every envelope; the host name when empty.")
    host_name: str | None = Field(None, description="host.name in every envelope; socket.gethostname() when empty.")
    scan_interval_ms: int = Field(2000, ge=10, description="How often the globs are re-evaluated to find new files.")
    poll_interval_ms: int = Field(250, ge=10, description="Polling fallback: how often every open file is checked for growth, rotation and truncation even without a watchdog event.")
    watch: bool = Field(True, description="Use filesystem notifications (watchdog: inotify, FSEvents, ...) to read new lines at once; polling still runs as a fallback.")
    read_buffer_bytes: int = Field(262_144, ge=4096, description="Bytes read from one file per read call.")
    close_inactive_ms: int = Field(300_000, ge=100, description="A file whose path no longer leads to it (rotated or deleted) is closed after it was read to the end and nothing new arrived for this long.")
    clean_removed: bool = Field(True, description="Forget registry entries of files that no longer exist.")
    registry_flush_ms: int = Field(1000, ge=0, description="How often acknowledged offsets are written to the registry file (atomic write, fsync, rename); 0 writes after every acknowledgement batch.")
    max_inflight_records: int = Field(20_000, ge=1, description="Records produced but not yet acknowledged at most; reading pauses beyond this (backpressure). Each costs a tracked Python object, so larger values slow garbage collection more than they help batching.")
    linger_ms: int = Field(20, ge=0, description="librdkafka linger.ms: how long a batch waits to fill.")
    batch_max_bytes: int = Field(1_000_000, ge=1024, description="librdkafka batch.size: bytes of one record batch at most.")
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field("lz4", description="Record batch compression.")
    delivery_timeout_ms: int = Field(30_000, ge=100, description="librdkafka message.timeout.ms: a record not acknowledged (acks=all) within this long, retries included, goes to the disk spool.")
    retry_backoff_ms: int = Field(100, ge=1, description="First retry delay of a failed produce request; it doubles per attempt up to retry_backoff_max_ms.")
    retry_backoff_max_ms: int = Field(5000, ge=1, description="Longest delay between retries, for the producer and for replaying the spool.")
    spool_max_bytes: int = Field(1_073_741_824, ge=0, description="Disk spool for records the broker did not take; when full, the agent stops reading files until the broker is back. 0 disables the spool.")
    monitor_listen: Listen | None = Field(None, description="HOST:PORT of the agent's own monitoring endpoint (/health, /stats, /metrics), like Filebeat's http.enabled; off when empty. Bind to loopback unless scraped remotely.")
    spool_segment_bytes: int = Field(16_777_216, ge=1024, description="Size of one spool segment file; a segment is deleted once every record in it was acknowledged.")
