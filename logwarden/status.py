"""The pipeline at a glance: what `GET /api/status` answers and `logwarden status` draws.

One snapshot gathers what an operator asks first, from the places that already know it:

* processes    <data_dir>/run/status.json, written by the supervisor every 0.2 s;
* rates        the Prometheus counters every stage keeps (multiprocess samples under
               `logwarden up`), turned into per-second rates against the previous snapshot
               this process took (at least RATE_MIN_S earlier, so two quick calls do not
               divide by almost nothing);
* lag, topics  the broker itself, asked as any Kafka admin client asks (ListGroups,
               OffsetFetch, ListOffsets latest and earliest, Metadata, DescribeConfigs for
               each topic's retention), so the same answer comes from the built-in broker
               and from a Kafka cluster; a topic's bytes on disk only for the built-in
               broker (its partition folders), as this client has no DescribeLogDirs;
* dead letters the newest DLQ_RECENT records of `logs.dlq`, for their reasons and samples;
* alerts       the search index, last hour by level;
* disk         the broker's log directory and the embedded index on the data directory.

Each part that cannot be read (the broker down, no index yet) is reported as an error string
in its place: a status page that fails whole when one part is sick shows nothing when it
matters most.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import orjson
from prometheus_client.parser import text_string_to_metric_families

from logwarden import metrics
from logwarden.config import Config
from logwarden.stages import GROUP_PREFIX


RATE_MIN_S = 1.0
ADMIN_TIMEOUT_S = 5.0
LEVELS = ("critical", "high", "medium", "low", "informational")

# Every stage counts what it consumed and produced in the component counters
# (logwarden/metrics.py); the index stage writes documents instead of producing them.
COMPONENT_IN = "logwarden_component_received_events_total"
COMPONENT_OUT = "logwarden_component_sent_events_total"
COMPONENT_ERRORS = "logwarden_component_errors_total"
OUT_INSTEAD = {"index": "logwarden_index_documents_total"}


def _counters(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} for every counter sample of an exposition."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.type != "counter":
            continue
        for s in fam.samples:
            if s.name.endswith("_total"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def stage_totals(text: str) -> dict[str, dict[str, float]]:
    """{stage: {"in": n, "out": n, "errors": n}} summed over label values."""
    keys = {COMPONENT_IN: "in", COMPONENT_OUT: "out", COMPONENT_ERRORS: "errors"}
    totals: dict[str, dict[str, float]] = {}
    instead: dict[str, float] = {}
    for (name, labels), value in _counters(text).items():
        for stage, counter in OUT_INSTEAD.items():
            if name == counter:
                instead[stage] = instead.get(stage, 0.0) + value
        if name in keys:
            row = totals.setdefault(dict(labels).get("component", "?"), {"in": 0.0, "out": 0.0, "errors": 0.0})
            row[keys[name]] += value
    for stage, value in instead.items():
        totals.setdefault(stage, {"in": 0.0, "out": 0.0, "errors": 0.0})["out"] = value
    return totals


class Rates:
    """Per-second rates of monotonically growing totals against an earlier snapshot."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._prev: tuple[float, dict[str, dict[str, float]]] | None = None
        self._lock = threading.Lock()

    def update(self, totals: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
        now = self.clock()
        with self._lock:
            prev = self._prev
            if prev is None or now - prev[0] >= RATE_MIN_S:
                self._prev = (now, totals)
        out: dict[str, dict[str, float | None]] = {}
        for stage, row in totals.items():
            rates: dict[str, float | None] = {}
            for k, v in row.items():
                if prev is None or now - prev[0] <= 0:
                    rates[k] = None
                else:
                    before = prev[1].get(stage, {}).get(k, 0.0)
                    rates[k] = max(0.0, v - before) / (now - prev[0])  # a restarted process resets its counter
            out[stage] = rates
        return out


def _processes(cfg: Config) -> dict[str, Any]:
    path = cfg.data_path / "run" / "status.json"
    try:
        children = orjson.loads(path.read_bytes()).get("children", {})
    except (OSError, orjson.JSONDecodeError):
        return {}
    by_stage: dict[str, dict[str, Any]] = {}
    for name, c in children.items():
        stage = name.split("-")[0] if name.startswith("parsers-") else name
        row = by_stage.setdefault(stage, {"processes": 0, "running": 0, "restarts": 0})
        row["processes"] += 1
        row["running"] += bool(c.get("running"))
        row["restarts"] += int(c.get("restarts") or 0)
    return by_stage


def _kafka(cfg: Config) -> dict[str, Any]:
    """Topics (partitions, end offsets) and every logwarden-* consumer group's lag, from the broker."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    from logwarden.kafka import client_settings

    admin = AdminClient({**client_settings(cfg), "client.id": "logwarden-status"})
    md = admin.list_topics(timeout=ADMIN_TIMEOUT_S)
    tps = [TopicPartition(t, p) for t, tm in md.topics.items() if not t.startswith("__") for p in tm.partitions]
    ends: dict[tuple[str, int], int] = {}
    starts: dict[tuple[str, int], int] = {}
    if tps:
        for spec, into in ((OffsetSpec.latest(), ends), (OffsetSpec.earliest(), starts)):
            for tp, fut in admin.list_offsets({tp: spec for tp in tps}, request_timeout=ADMIN_TIMEOUT_S).items():
                into[(tp.topic, tp.partition)] = fut.result().offset
    names = sorted(t for t in md.topics if not t.startswith("__"))
    configs = _topic_configs(admin, names)
    topics = {t: {"partitions": len(md.topics[t].partitions),
                  "end_offsets": sum(ends.get((t, p), 0) for p in md.topics[t].partitions),
                  # what retention has left on the broker: end minus earliest offset, summed
                  "retained_records": sum(max(0, ends.get((t, p), 0) - starts.get((t, p), 0)) for p in md.topics[t].partitions),
                  **configs.get(t, {})}
              for t in names}
    listing = admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result()
    names = sorted(g.group_id for g in listing.valid if g.group_id.startswith(GROUP_PREFIX))
    # Offsets a group committed on a topic its stage no longer reads (the metrics stage on
    # logs.ecs once the index stage counts the events, index.count_events; see MetricsStage)
    # are not lag: they would only grow, as nothing consumes there any more.
    unread = {f"{GROUP_PREFIX}metrics": {cfg.topics.ecs}} if cfg.index.count_events else {}
    groups: dict[str, Any] = {}
    for gid in names:
        res = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)],
                                                request_timeout=ADMIN_TIMEOUT_S)[gid].result()
        per_topic: dict[str, dict[str, Any]] = {}
        for tp in res.topic_partitions or []:
            if tp.offset < 0 or tp.topic in unread.get(gid, ()):
                continue
            lag = max(0, ends.get((tp.topic, tp.partition), tp.offset) - tp.offset)
            row = per_topic.setdefault(tp.topic, {"lag": 0, "partitions": {}})
            row["lag"] += lag
            row["partitions"][str(tp.partition)] = lag
        groups[gid] = {"stage": gid[len(GROUP_PREFIX):], "lag": sum(r["lag"] for r in per_topic.values()),
                       "topics": per_topic}
    return {"topics": topics, "groups": groups, "_ends": ends, "_starts": starts}


# The topic configs the pipeline page shows, as any Kafka admin client reads them (DescribeConfigs).
TOPIC_CONFIGS = {"retention.ms": "retention_ms", "retention.bytes": "retention_bytes", "cleanup.policy": "cleanup_policy"}


def _topic_configs(admin: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """{topic: {retention_ms, retention_bytes, cleanup_policy}} (-1 = unlimited, as Kafka says);
    a topic whose configs cannot be read gets `config_error` instead (e.g. no DescribeConfigs ACL)."""
    from confluent_kafka.admin import ConfigResource

    if not names:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in names]
    out: dict[str, dict[str, Any]] = {}
    for res, fut in admin.describe_configs(resources, request_timeout=ADMIN_TIMEOUT_S).items():
        try:
            entries = fut.result()
        except Exception as exc:   # one topic's refusal must not hide the others
            out[res.name] = {"config_error": str(exc)}
            continue
        row: dict[str, Any] = {}
        for key, name in TOPIC_CONFIGS.items():
            e = entries.get(key)
            v = e.value if e is not None else None
            row[name] = int(v) if v is not None and name != "cleanup_policy" and v.lstrip("-").isdigit() else v
        out[res.name] = row
    return out


def _topic_bytes(cfg: Config, topics: dict[str, Any]) -> None:
    """Each topic's size on disk, for the built-in broker (its partition folders
    <data_dir>/broker/<topic>-<partition>); a Kafka cluster's sizes are not read (None)."""
    for name, row in topics.items():
        if cfg.kafka.bootstrap_servers:
            row["bytes"] = None
            continue
        row["bytes"] = sum(_du(cfg.data_path / "broker" / f"{name}-{p}") for p in range(int(row.get("partitions") or 0)))


DLQ_RECENT = 5        # dead letters listed with their reason and a sample of the input
DLQ_SAMPLE_CHARS = 200


def _sample(doc: dict[str, Any]) -> str | None:
    """A short piece of what failed: the original line (event.original), else the raw input."""
    ev = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    raw = ev.get("original")
    if not isinstance(raw, str) or not raw:
        raw = doc.get("raw")
        if raw is not None and not isinstance(raw, str):
            raw = orjson.dumps(raw).decode()
    if not raw:
        return None
    return raw if len(raw) <= DLQ_SAMPLE_CHARS else raw[:DLQ_SAMPLE_CHARS] + "…"


def _dead_letters(cfg: Config, ends: dict[tuple[str, int], int], starts: dict[tuple[str, int], int] | None = None) -> dict[str, Any]:
    """Count on the dead-letter topic (`topics.dlq`), the reason of its newest record, and the
    newest DLQ_RECENT records (of all partitions) with their reason and a sample of the input."""
    from confluent_kafka import Consumer, TopicPartition

    from logwarden.kafka import client_settings

    starts = starts or {}
    parts = [(p, end) for (t, p), end in ends.items() if t == cfg.topics.dlq and end > starts.get((t, p), 0)]
    out: dict[str, Any] = {"count": sum(end for (t, _), end in ends.items() if t == cfg.topics.dlq), "latest": None, "recent": []}
    if not parts:
        return out
    c = Consumer({**client_settings(cfg), "group.id": "logwarden-status-reader", "enable.auto.commit": False,
                  "client.id": "logwarden-status"})
    try:
        c.assign([TopicPartition(cfg.topics.dlq, p, max(starts.get((cfg.topics.dlq, p), 0), end - DLQ_RECENT)) for p, end in parts])
        pending = {p: end - 1 for p, end in parts}   # the last offset still to read, per partition
        records: list[tuple[int, int, int, dict[str, Any]]] = []
        deadline = time.monotonic() + ADMIN_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.offset() >= pending.get(msg.partition(), -1):
                pending.pop(msg.partition(), None)
            try:
                doc = orjson.loads(msg.value())
            except orjson.JSONDecodeError:
                doc = {}
            doc = doc if isinstance(doc, dict) else {}
            err = doc.get("error") if isinstance(doc.get("error"), dict) else {}
            ts = msg.timestamp()[1]
            records.append((ts, msg.partition(), msg.offset(), {
                "time_ms": ts, "type": err.get("type"), "reason": err.get("message"),
                "partition": msg.partition(), "offset": msg.offset(), "sample": _sample(doc)}))
        records.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
        out["recent"] = [r[3] for r in records[:DLQ_RECENT]]
        if records:
            newest = records[0][3]
            out["latest"] = {"time_ms": newest["time_ms"], "type": newest["type"], "reason": newest["reason"]}
    finally:
        c.close()
    return out


def _alerts(search: Any) -> dict[str, int]:
    hour = timedelta(hours=1)
    return {lv: int(search.alerts(since=hour, limit=1, q=f"alert.level:{lv}")["total"]) for lv in LEVELS}


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _disk(cfg: Config) -> dict[str, Any]:
    data = cfg.data_path
    usage = shutil.disk_usage(data) if data.exists() else None
    out: dict[str, Any] = {
        "data_dir": str(data),
        "filesystem_free_bytes": usage.free if usage else None,
        "filesystem_total_bytes": usage.total if usage else None,
        "broker_log_bytes": _du(data / "broker") if not cfg.kafka.bootstrap_servers else None,
        "index_bytes": _du(data / "index") if cfg.index.type == "embedded" else None,
    }
    if not cfg.kafka.bootstrap_servers:
        from logwarden.broker.storage import LogConfig

        defaults = LogConfig()  # what the built-in broker gives a topic without overrides
        out["broker_retention_bytes_per_partition"] = defaults.retention_bytes
        out["broker_retention_ms"] = defaults.retention_ms
    return out


def _part(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # one sick part must not hide the others
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect(cfg: Config, rates: Rates, search: Any | None = None) -> dict[str, Any]:
    """One status snapshot (the body of GET /api/status)."""
    processes = _processes(cfg)
    totals = _part(lambda: stage_totals(metrics.exposition().decode()))
    per_s = rates.update(totals) if "error" not in totals else {}
    kafka = _part(lambda: _kafka(cfg))
    ends = kafka.pop("_ends", {}) if "error" not in kafka else {}
    starts = kafka.pop("_starts", {}) if "error" not in kafka else {}
    if "error" not in kafka:
        _topic_bytes(cfg, kafka["topics"])
    groups = kafka.get("groups", {}) if "error" not in kafka else {}
    stages: dict[str, Any] = {}
    for name in sorted(set(processes) | set(totals if "error" not in totals else {}) | {g["stage"] for g in groups.values()}):
        if name in ("http", "demo", "supervisor"):
            continue
        t = totals.get(name, {}) if "error" not in totals else {}
        r = per_s.get(name, {})
        g = groups.get(GROUP_PREFIX + name)
        stages[name] = {
            **processes.get(name, {"processes": 0, "running": 0, "restarts": 0}),
            "in_total": t.get("in"), "out_total": t.get("out"), "errors_total": t.get("errors"),
            "in_per_s": r.get("in"), "out_per_s": r.get("out"), "errors_per_s": r.get("errors"),
            "lag": g["lag"] if g else None,
        }
    return {
        "time_ms": int(time.time() * 1000),
        "stages": stages,
        "processes": processes,
        "topics": kafka.get("topics") if "error" not in kafka else kafka,
        "consumer_groups": groups if "error" not in kafka else kafka,
        "dead_letters": _part(lambda: _dead_letters(cfg, ends, starts)) if ends else {"count": 0, "latest": None, "recent": []},
        "alerts_last_hour": _part(lambda: _alerts(search)) if search is not None else None,
        "disk": _part(lambda: _disk(cfg)),
        "alerts_topic": cfg.topics.alerts,
        "dlq_topic": cfg.topics.dlq,
    }
