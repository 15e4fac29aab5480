"""LogManager: every topic-partition log under one directory, Kafka's layout.

    <data_dir>/broker/
        topics.json                        {"<topic>": {"partitions": N, "config": {overrides}}}
        recovery-point-offset-checkpoint   "0\\n<count>\\n<topic> <partition> <offset>\\n..."
        .kafka_cleanshutdown               present only between a clean close() and the next open
        <topic>-<partition>/00000000000000000000.log|.index|.timeindex ...

topics.json is the source of truth for which topics exist; it is replaced atomically
(write, fsync, rename). A partition directory it does not name is the remnant of a create
or delete cut short by a crash and is removed on open.

Opening recovers every log: after a clean close indexes are trusted after sanity checks;
otherwise each log re-validates everything from its recovery point on (see log.py).
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import resource
import shutil
import threading
from pathlib import Path

import orjson

from .config import LogConfig, apply_overrides, describe, validate_overrides
from .errors import (InvalidPartitionsError, InvalidTopicError, TopicExistsError, UnknownPartitionError,
                     UnknownTopicError)
from .log import PartitionLog, now_ms

log = logging.getLogger(__name__)

TOPICS_FILE = "topics.json"
RECOVERY_CHECKPOINT = "recovery-point-offset-checkpoint"
CLEAN_SHUTDOWN = ".kafka_cleanshutdown"
LOCK_FILE = ".lock"  # flock'ed while a LogManager has the directory open, as Kafka does
MAX_TOPIC_NAME = 249  # Kafka: 255 minus room for "-<partition>" and deletion suffixes
MAX_PARTITIONS = 10000  # each partition is a directory with open files: a typo such as 100000 must not exhaust them
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")
_PARTITION_DIR = re.compile(r"[a-zA-Z0-9._-]+-[0-9]+")  # only these are ever removed as orphans


# Kafka's org.apache.kafka.common.internals.Topic.isInternal: exactly these names. Any other
# topic starting with "__" (Debezium's __debezium-heartbeat.<server>, say) is an ordinary one.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})


def is_internal_topic(name: str) -> bool:
    return name in INTERNAL_TOPICS


def validate_topic_name(name: str) -> None:
    """Kafka's org.apache.kafka.common.internals.Topic.validate rules."""
    if not name:
        raise InvalidTopicError("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopicError(f"topic name cannot be {name!r}")
    if len(name) > MAX_TOPIC_NAME:
        raise InvalidTopicError(f"topic name is longer than {MAX_TOPIC_NAME} characters")
    if not _LEGAL.fullmatch(name):
        raise InvalidTopicError(f"topic name {name!r} has characters other than ASCII letters, digits, '.', '_' and '-'")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit: every segment keeps its .log open
    (reads and sendfile need no open() per fetch), so a broker needs more than the usual
    soft limit of 1024 descriptors, as Kafka does. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            return want
        except (ValueError, OSError):
            pass
    return soft


class LogDirLockedError(RuntimeError):
    """Another process (or LogManager) has this log directory open."""


class LogManager:
    def __init__(self, data_dir: Path, default_config: LogConfig | None = None) -> None:
        self.log_dir = Path(data_dir) / "broker"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        raise_fd_limit()
        self._lock_fd = os.open(self.log_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise LogDirLockedError(f"{self.log_dir} is in use by another broker process (lock on {LOCK_FILE}); "
                                    "two brokers must not share a data_dir") from None
        self.default_config = default_config or LogConfig()
        self._lock = threading.RLock()
        # Serialises checkpoint rewrites (event loop: create/delete topic; maintenance thread:
        # after fsyncs): they share one .tmp file, and a snapshot taken earlier must not
        # replace one taken later. Taken before _lock, never while holding it.
        self._checkpoint_lock = threading.Lock()
        self._topics: dict[str, dict] = {}
        self._logs: dict[tuple[str, int], PartitionLog] = {}
        self._graveyard: list[tuple[int, list]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._load()

    # -- open / recovery -------------------------------------------------------------------

    def _load(self) -> None:
        marker = self.log_dir / CLEAN_SHUTDOWN
        clean = marker.exists()
        tf = self.log_dir / TOPICS_FILE
        fresh = not tf.exists() and not any(self.log_dir.glob("*/"))
        self._topics = orjson.loads(tf.read_bytes()) if tf.exists() else {}
        points = self._read_checkpoint()
        wanted = {f"{t}-{p}" for t, meta in self._topics.items() for p in range(meta["partitions"])}
        for d in self.log_dir.iterdir():
            if d.is_dir() and d.name not in wanted and _PARTITION_DIR.fullmatch(d.name):
                log.warning("removing %s: not a partition of any topic (interrupted create or delete)", d)
                shutil.rmtree(d, ignore_errors=True)
        for topic, meta in self._topics.items():
            cfg = apply_overrides(self.default_config, meta.get("config"))
            for p in range(meta["partitions"]):
                self._logs[(topic, p)] = PartitionLog(self.log_dir / f"{topic}-{p}", topic, p, cfg,
                                                      points.get((topic, p), 0), clean)
        if clean:
            marker.unlink()
        self._write_checkpoint()
        self._log_opened(fresh, clean)

    def _log_opened(self, fresh: bool, clean: bool) -> None:
        """Say what opening found: a new directory is no fault, a crash says what it cost."""
        n, topics = len(self._logs), len(self._topics)
        if fresh:
            log.info("new log directory %s", self.log_dir)
        elif clean:
            log.info("opened %d partition(s) of %d topic(s) in %s after a clean shutdown", n, topics, self.log_dir)
        else:
            segments = sum(lg.revalidated_segments for lg in self._logs.values())
            dropped = sum(lg.truncated_bytes for lg in self._logs.values())
            (log.warning if dropped else log.info)(
                "recovered %d partition(s) of %d topic(s) in %s after an unclean shutdown: %d segment(s) "
                "re-validated, %d byte(s) of torn batches truncated", n, topics, self.log_dir, segments, dropped,
                extra={"revalidated_segments": segments, "truncated_bytes": dropped})

    def _read_checkpoint(self) -> dict[tuple[str, int], int]:
        path = self.log_dir / RECOVERY_CHECKPOINT
        out: dict[tuple[str, int], int] = {}
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return out
        try:
            for line in lines[2:2 + int(lines[1])]:
                topic, part, off = line.split()
                out[(topic, int(part))] = int(off)
        except (ValueError, IndexError):
            log.warning("ignoring malformed %s: every log recovers from its start", path)
            return {}
        return out

    def _write_checkpoint(self) -> None:
        with self._checkpoint_lock:
            with self._lock:
                items = [(t, p, lg.recovery_point) for (t, p), lg in self._logs.items()]
            body = f"0\n{len(items)}\n" + "".join(f"{t} {p} {o}\n" for t, p, o in items)
            _atomic_write(self.log_dir / RECOVERY_CHECKPOINT, body.encode())

    def _save_topics(self) -> None:
        _atomic_write(self.log_dir / TOPICS_FILE, orjson.dumps(self._topics, option=orjson.OPT_INDENT_2))

    # -- topics ----------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int, config: dict[str, str] | None = None,
                     validate_only: bool = False) -> None:
        """Create a topic; with validate_only, run every check a creation would (CreateTopics'
        validate_only flag) and create nothing."""
        validate_topic_name(name)
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise InvalidPartitionsError(f"partitions must be between 1 and {MAX_PARTITIONS}, got {partitions}")
        overrides = validate_overrides(config)
        cfg = apply_overrides(self.default_config, overrides)
        with self._lock:
            if name in self._topics:
                raise TopicExistsError(f"topic {name!r} already exists")
            folded = name.replace(".", "_")
            for other in self._topics:
                if other.replace(".", "_") == folded:
                    raise InvalidTopicError(f"topic {name!r} collides with existing topic {other!r} ('.' and '_' collide in metric names)")
            if validate_only:
                return
            for p in range(partitions):
                self._logs[(name, p)] = PartitionLog(self.log_dir / f"{name}-{p}", name, p, cfg, 0, True)
            self._topics[name] = {"partitions": partitions, "config": overrides}
            self._save_topics()
        self._write_checkpoint()  # no stale recovery point of an earlier topic of that name
        log.debug("created topic %s with %d partition(s)", name, partitions)

    def create_partitions(self, name: str, total: int, validate_only: bool = False) -> None:
        """Grow a topic to `total` partitions (CreatePartitions); Kafka never shrinks. With
        validate_only, run the checks and change nothing."""
        with self._lock:
            meta = self._meta(name)
            if total <= meta["partitions"] or total > MAX_PARTITIONS:
                raise InvalidPartitionsError(f"topic {name!r} has {meta['partitions']} partitions; the count can "
                                             f"only grow, up to {MAX_PARTITIONS}, not to {total}")
            if validate_only:
                return
            cfg = self.topic_config(name)
            for p in range(meta["partitions"], total):
                self._logs[(name, p)] = PartitionLog(self.log_dir / f"{name}-{p}", name, p, cfg, 0, True)
            meta["partitions"] = total
            self._save_topics()

    def delete_topic(self, name: str) -> None:
        with self._lock:
            meta = self._meta(name)
            del self._topics[name]
            self._save_topics()  # commit point: from here the topic does not exist
            dropped = []
            for p in range(meta["partitions"]):
                lg = self._logs.pop((name, p))
                with lg.maint_lock:  # let a running maintenance pass on it finish first
                    dropped.extend(lg.drop())
                shutil.rmtree(lg.directory, ignore_errors=True)
            self._graveyard.append((now_ms() + self.default_config.file_delete_delay_ms, dropped))
        self._write_checkpoint()
        log.info("deleted topic %s", name)

    def _meta(self, name: str) -> dict:
        meta = self._topics.get(name)
        if meta is None:
            raise UnknownTopicError(f"unknown topic {name!r}")
        return meta

    def topics(self) -> dict[str, int]:
        with self._lock:
            return {t: m["partitions"] for t, m in self._topics.items()}

    def has_topic(self, name: str) -> bool:
        return name in self._topics

    def topic_config(self, name: str) -> LogConfig:
        return apply_overrides(self.default_config, self._meta(name).get("config"))

    def config_overrides(self, name: str) -> dict[str, str]:
        """Only the settings set on the topic (DescribeConfigs source DYNAMIC_TOPIC_CONFIG)."""
        return dict(self._meta(name).get("config") or {})

    def describe_config(self, name: str) -> dict[str, str]:
        return describe(self.topic_config(name), self.config_overrides(name))

    def alter_topic_config(self, name: str, overrides: dict[str, str | None], incremental: bool = True) -> None:
        """Set (value) or reset (None) overrides; non-incremental replaces them all (AlterConfigs)."""
        with self._lock:
            meta = self._meta(name)
            merged = dict(meta.get("config") or {}) if incremental else {}
            for k, v in overrides.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = str(v)
            merged = validate_overrides(merged)
            cfg = apply_overrides(self.default_config, merged)
            meta["config"] = merged
            for p in range(meta["partitions"]):
                self._logs[(name, p)].config = cfg
            self._save_topics()

    def get(self, topic: str, partition: int) -> PartitionLog:
        lg = self._logs.get((topic, partition))
        if lg is None:
            if topic not in self._topics:
                raise UnknownTopicError(f"unknown topic {topic!r}")
            raise UnknownPartitionError(f"topic {topic!r} has no partition {partition}")
        return lg

    def logs(self) -> list[PartitionLog]:
        with self._lock:
            return list(self._logs.values())

    # -- maintenance -----------------------------------------------------------------------

    def run_maintenance(self, now_ms_: int | None = None) -> None:
        """Roll by age, retention, compaction, flush.ms fsyncs, delayed file closes."""
        now = now_ms() if now_ms_ is None else now_ms_
        before = {id(lg): lg.recovery_point for lg in self.logs()}
        for lg in self.logs():
            try:
                with lg.maint_lock:
                    lg.maintain(now)
            except Exception:
                log.exception("maintenance of %s-%d failed", lg.topic, lg.partition)
        with self._lock:
            keep = []
            for due, segs in self._graveyard:
                if due <= now:
                    for s in segs:
                        s.close()
                else:
                    keep.append((due, segs))
            self._graveyard = keep
        if any(lg.recovery_point != before.get(id(lg)) for lg in self.logs()):
            self._write_checkpoint()

    def start_background(self, interval_s: float = 0.5) -> None:
        """Run run_maintenance every interval_s on a daemon thread (fsync off the event loop)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.run_maintenance()

        self._thread = threading.Thread(target=loop, name="logwarden-log-maintenance", daemon=True)
        self._thread.start()

    def stop_background(self) -> None:
        """Stop the maintenance thread (waits for a pass in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._stop = threading.Event()

    def flush_all(self) -> None:
        for lg in self.logs():
            lg.flush()
        self._write_checkpoint()

    def close(self) -> None:
        """Flush everything and leave the clean-shutdown marker for a fast next open."""
        if self._closed:
            return
        self._closed = True
        self.stop_background()
        for lg in self.logs():
            with lg.maint_lock:
                lg.close()
        with self._lock:
            for _, segs in self._graveyard:
                for s in segs:
                    s.close()
            self._graveyard = []
        self._write_checkpoint()
        _atomic_write(self.log_dir / CLEAN_SHUTDOWN, b"")
        os.close(self._lock_fd)  # releases the flock

